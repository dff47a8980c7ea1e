/// The CSTA Phase I part of an event, decoded by event type.
///
/// Every field is optional and read leniently: real links differ by private-data version and serialiser, and a
/// field of an unexpected shape must never make the event unreadable (the ingest envelope, docs/api.md). Enumerations stay as
/// their TSAPI names (`CS_ALERTING`, `EC_TRANSFER`) so an unknown name is kept, not lost.
package enum CSTAEvent: Sendable, Hashable {
    case delivered(Delivered)
    case established(Established)
    case connectionCleared(ConnectionCleared)
    case callCleared(CallCleared)
    case held(Held)
    case retrieved(Retrieved)
    case transferred(Merged)
    case conferenced(Merged)
    case diverted(Diverted)
    case failed(Failed)
    case queued(Queued)
    case originated(Originated)
    case networkReached(NetworkReached)
    case serviceInitiated(ServiceInitiated)
    /// Monitor ended, link events and anything not modelled.
    case other

    /// Alerting at a device (`CSTADeliveredEvent_t`); Established has the same shape with other names.
    package struct Delivered: Codable, Sendable, Hashable {
        package var connection: ConnectionID?
        package var alertingDevice: DeviceID?
        package var callingDevice: DeviceID?
        package var calledDevice: DeviceID?
        package var lastRedirectionDevice: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct Established: Codable, Sendable, Hashable {
        package var establishedConnection: ConnectionID?
        package var answeringDevice: DeviceID?
        package var callingDevice: DeviceID?
        package var calledDevice: DeviceID?
        package var lastRedirectionDevice: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct ConnectionCleared: Codable, Sendable, Hashable {
        package var droppedConnection: ConnectionID?
        package var releasingDevice: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct CallCleared: Codable, Sendable, Hashable {
        package var clearedCall: ConnectionID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct Held: Codable, Sendable, Hashable {
        package var heldConnection: ConnectionID?
        package var holdingDevice: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct Retrieved: Codable, Sendable, Hashable {
        package var retrievedConnection: ConnectionID?
        package var retrievingDevice: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    /// Transferred and Conferenced: two old calls merged into the one named by the connection list.
    package struct Merged: Codable, Sendable, Hashable {
        package var primaryOldCall: ConnectionID?
        package var secondaryOldCall: ConnectionID?
        /// `transferringDevice` or `confController`.
        package var controller: DeviceID?
        /// `transferredDevice` or `addedParty`.
        package var addedParty: DeviceID?
        /// `transferredConnections` or `conferenceConnections`.
        package var connections: [Connection]
        package var localConnectionInfo: String?
        package var cause: String?

        /// The surviving callID: the connection list is the source of truth, not the old-call fields.
        package var resultingCallID: Int64? {
            connections.first(where: { $0.party.callID != 0 })?.party.callID
                ?? secondaryOldCall.flatMap { $0.callID == 0 ? nil : $0.callID }
        }
    }

    package struct Diverted: Codable, Sendable, Hashable {
        package var connection: ConnectionID?
        package var divertingDevice: DeviceID?
        package var newDestination: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct Failed: Codable, Sendable, Hashable {
        package var failedConnection: ConnectionID?
        package var failingDevice: DeviceID?
        package var calledDevice: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct Queued: Codable, Sendable, Hashable {
        package var queuedConnection: ConnectionID?
        package var queue: DeviceID?
        package var callingDevice: DeviceID?
        package var calledDevice: DeviceID?
        package var lastRedirectionDevice: DeviceID?
        package var numberQueued: Int?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct Originated: Codable, Sendable, Hashable {
        package var originatedConnection: ConnectionID?
        package var callingDevice: DeviceID?
        package var calledDevice: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct NetworkReached: Codable, Sendable, Hashable {
        package var connection: ConnectionID?
        package var trunkUsed: DeviceID?
        package var calledDevice: DeviceID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    package struct ServiceInitiated: Codable, Sendable, Hashable {
        package var initiatedConnection: ConnectionID?
        package var localConnectionInfo: String?
        package var cause: String?
    }

    /// Decodes `csta` for the given event type; fields that do not fit are left nil.
    package static func decode(_ type: EventType?, from decoder: any Decoder) -> CSTAEvent {
        guard let lenient = try? LenientFields(decoder) else { return .other }
        switch type {
        case .delivered:
            return .delivered(
                Delivered(
                    connection: lenient["connection"], alertingDevice: lenient["alertingDevice"],
                    callingDevice: lenient["callingDevice"], calledDevice: lenient["calledDevice"],
                    lastRedirectionDevice: lenient["lastRedirectionDevice"],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .established:
            return .established(
                Established(
                    establishedConnection: lenient["establishedConnection"],
                    answeringDevice: lenient["answeringDevice"],
                    callingDevice: lenient["callingDevice"], calledDevice: lenient["calledDevice"],
                    lastRedirectionDevice: lenient["lastRedirectionDevice"],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .connectionCleared:
            return .connectionCleared(
                ConnectionCleared(
                    droppedConnection: lenient["droppedConnection"], releasingDevice: lenient["releasingDevice"],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .callCleared:
            return .callCleared(
                CallCleared(
                    clearedCall: lenient["clearedCall"], localConnectionInfo: lenient.enumName("localConnectionInfo"),
                    cause: lenient.enumName("cause")))
        case .held:
            return .held(
                Held(
                    heldConnection: lenient["heldConnection"], holdingDevice: lenient["holdingDevice"],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .retrieved:
            return .retrieved(
                Retrieved(
                    retrievedConnection: lenient["retrievedConnection"], retrievingDevice: lenient["retrievingDevice"],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .transferred:
            return .transferred(
                Merged(
                    primaryOldCall: lenient["primaryOldCall"], secondaryOldCall: lenient["secondaryOldCall"],
                    controller: lenient["transferringDevice"], addedParty: lenient["transferredDevice"],
                    connections: (lenient["transferredConnections"] as FlexibleList<Connection>?)?.items ?? [],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .conferenced:
            return .conferenced(
                Merged(
                    primaryOldCall: lenient["primaryOldCall"], secondaryOldCall: lenient["secondaryOldCall"],
                    controller: lenient["confController"], addedParty: lenient["addedParty"],
                    connections: (lenient["conferenceConnections"] as FlexibleList<Connection>?)?.items ?? [],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .diverted:
            return .diverted(
                Diverted(
                    connection: lenient["connection"], divertingDevice: lenient["divertingDevice"],
                    newDestination: lenient["newDestination"],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"),
                    cause: lenient.enumName("cause")))
        case .failed:
            return .failed(
                Failed(
                    failedConnection: lenient["failedConnection"], failingDevice: lenient["failingDevice"],
                    calledDevice: lenient["calledDevice"], localConnectionInfo: lenient.enumName("localConnectionInfo"),
                    cause: lenient.enumName("cause")))
        case .queued:
            return .queued(
                Queued(
                    queuedConnection: lenient["queuedConnection"], queue: lenient["queue"],
                    callingDevice: lenient["callingDevice"], calledDevice: lenient["calledDevice"],
                    lastRedirectionDevice: lenient["lastRedirectionDevice"],
                    numberQueued: (lenient.integer("numberQueued")).map { Int($0) },
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .originated:
            return .originated(
                Originated(
                    originatedConnection: lenient["originatedConnection"], callingDevice: lenient["callingDevice"],
                    calledDevice: lenient["calledDevice"], localConnectionInfo: lenient.enumName("localConnectionInfo"),
                    cause: lenient.enumName("cause")))
        case .networkReached:
            return .networkReached(
                NetworkReached(
                    connection: lenient["connection"], trunkUsed: lenient["trunkUsed"],
                    calledDevice: lenient["calledDevice"],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .serviceInitiated:
            return .serviceInitiated(
                ServiceInitiated(
                    initiatedConnection: lenient["initiatedConnection"],
                    localConnectionInfo: lenient.enumName("localConnectionInfo"), cause: lenient.enumName("cause")))
        case .monitorEnded, .linkUp, .linkDown, .linkSnapshot, .ucidLinked, .userDataSet, .userDataReplaced,
            .userDataMerged,
            .userDataDeleted, .callUserDataSet, .tokenCreated, .tokenRevoked, .accessRefused, nil:
            return .other
        }
    }
}

/// Reads members of a JSON object one by one, turning each shape mismatch into nil and remembering its name,
/// so the caller can count what it could not interpret.
struct LenientFields {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private let container: KeyedDecodingContainer<Key>

    /// Throws when the value is not an object, so a struct of the wrong shape decodes as nil, not as empty.
    init(_ decoder: any Decoder) throws {
        self.container = try decoder.container(keyedBy: Key.self)
    }

    subscript<Value: Decodable>(_ name: String) -> Value? {
        try? container.decodeIfPresent(Value.self, forKey: Key(stringValue: name))
    }

    /// An enumeration by TSAPI name; a numeric value is kept as its digits.
    func enumName(_ name: String) -> String? {
        if let text: String = self[name] { return text }
        if let number: Int = self[name] { return String(number) }
        return nil
    }

    func integer(_ name: String) -> Int64? {
        try? container.decodeLenientInteger(forKey: Key(stringValue: name))
    }
}
