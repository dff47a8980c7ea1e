import Foundation
import TSAPI
import Testing

/// Full decode of stored events with `JSONDecoder`, as projections and tools do (the ingest envelope, docs/api.md).
@Suite("TSAPIEvent decoding")
struct TSAPIEventDecodingTests {
    static func decode(_ json: String) throws -> TSAPIEvent {
        try JSONDecoder().decode(TSAPIEvent.self, from: Data(json.utf8))
    }

    /// An event of `type` with the given `csta` and optional `att` text.
    static func event(_ type: String, csta: String, att: String? = nil) -> String {
        Envelope.event(type, csta: csta, att: att)
    }

    /// The envelope's own example (docs/api.md), verbatim.
    static let contractExample = """
        {
          "id": "aes1-000000042",
          "source": "aes1",
          "switch": "cm1",
          "seq": 42,
          "time": "2026-11-20T10:00:01.250Z",
          "monitor": 201,
          "type": "CSTA_DELIVERED",
          "csta": {
            "connection": {"callID": 1001, "deviceID": "5001", "devIDType": "STATIC_ID"},
            "alertingDevice": "5001",
            "callingDevice": {"deviceID": "6135550100", "deviceIDType": "EXPLICIT_PUBLIC_UNKNOWN",
              "deviceIDStatus": "ID_PROVIDED"},
            "calledDevice": "8005551234",
            "lastRedirectionDevice": "7001",
            "localConnectionInfo": "CS_ALERTING",
            "cause": "EC_NONE"
          },
          "att": {
            "deliveredType": "DELIVERED_TO_STATION", "split": "3001", "trunkGroup": "10", "trunkMember": "5",
            "ucid": "00001000421700000000", "distributingVDN": "7001",
            "userEnteredCode": {"type": "UE_CALL_PROMPTER", "indicator": "UE_COLLECT", "data": "4321",
              "collectVDN": "7001"},
            "userInfo": {"type": "UUI_IA5_ASCII", "data": "ACCT=998877;LANG=FR"},
            "originalCallInfo": {"reason": "OR_NONE"}
          }
        }
        """

    // MARK: Envelope

    @Test func decodesTheContractExampleEnvelope() throws {
        let event = try Self.decode(Self.contractExample)
        #expect(event.id == "aes1-000000042")
        #expect(event.source == "aes1")
        #expect(event.switchName == "cm1")
        #expect(event.switchID == "cm1")
        #expect(event.seq == 42)
        #expect(Int64((event.time.timeIntervalSince1970 * 1_000_000).rounded()) == Envelope.timeMicros)
        #expect(event.monitor == 201)
        #expect(event.type == "CSTA_DELIVERED")
        #expect(event.eventType == .delivered)
    }

    @Test func decodesTheContractExampleCSTA() throws {
        let event = try Self.decode(Self.contractExample)
        let delivered = try #require(event.csta.delivered)
        #expect(delivered.connection == ConnectionID(callID: 1001, deviceID: "5001", devIDType: "STATIC_ID"))
        #expect(delivered.alertingDevice == DeviceID("5001"))
        #expect(
            delivered.callingDevice
                == DeviceID("6135550100", type: "EXPLICIT_PUBLIC_UNKNOWN", status: "ID_PROVIDED"))
        #expect(delivered.calledDevice == DeviceID("8005551234"))
        #expect(delivered.lastRedirectionDevice == DeviceID("7001"))
        #expect(delivered.localConnectionInfo == "CS_ALERTING")
        #expect(delivered.cause == "EC_NONE")
    }

    @Test func decodesTheContractExampleATT() throws {
        let att = try #require(try Self.decode(Self.contractExample).att)
        #expect(att.deliveredType == "DELIVERED_TO_STATION")
        #expect(att.split == "3001")
        #expect(att.trunkGroup == "10")
        #expect(att.trunkMember == "5")
        #expect(att.ucid == "00001000421700000000")
        #expect(att.ucidValue == UCID("00001000421700000000"))
        #expect(att.ucidValue != nil)
        #expect(att.distributingVDN == DeviceID("7001"))
        #expect(
            att.userEnteredCode
                == UserEnteredCode(type: "UE_CALL_PROMPTER", indicator: "UE_COLLECT", data: "4321", collectVDN: "7001"))
        #expect(att.userInfo == UserToUserInfo(type: "UUI_IA5_ASCII", data: "ACCT=998877;LANG=FR"))
        #expect(att.originalCallInfo?.reason == "OR_NONE")
        #expect(att.trunkList.isEmpty)
        #expect(att.deviceHistory.isEmpty)
    }

    @Test func switchDefaultsToSource() throws {
        let event = try Self.decode(Envelope.event(source: "aes9"))
        #expect(event.switchName == nil)
        #expect(event.switchID == "aes9")
        #expect(event.id == nil)
        #expect(event.monitor == nil)
        #expect(event.att == nil)
    }

    @Test func seqAndMonitorAsNumericStrings() throws {
        let json = #"{"source":"s","seq":"42","monitor":"201","time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        let event = try Self.decode(json)
        #expect(event.seq == 42)
        #expect(event.monitor == 201)
    }

    @Test func timeWithOffsetIsNormalised() throws {
        let json = #"{"source":"s","seq":1,"time":"2026-11-20T04:30:01.250-05:30","type":"CSTA_HELD"}"#
        let event = try Self.decode(json)
        #expect(Int64((event.time.timeIntervalSince1970 * 1_000_000).rounded()) == Envelope.timeMicros)
    }

    @Test(arguments: [
        #"{"seq":1,"time":"2026-11-20T10:00:01.250Z","type":"CSTA_HELD"}"#,
        #"{"source":"s","seq":1,"type":"CSTA_HELD"}"#,
        #"{"source":"s","seq":1,"time":"2026-11-20T10:00:01.250Z"}"#,
        #"{"source":"s","seq":1,"time":1795168801,"type":"CSTA_HELD"}"#,
        #"[]"#,
    ])
    func missingRequiredFieldThrows(_ json: String) {
        #expect(throws: DecodingError.self) { try Self.decode(json) }
    }

    @Test func badTimeThrowsDataCorrupted() {
        let json = #"{"source":"s","seq":1,"time":"2026-02-30T10:00:01Z","type":"CSTA_HELD"}"#
        let error = #expect(throws: DecodingError.self) { try Self.decode(json) }
        guard case .dataCorrupted(_)? = error else {
            Issue.record("expected .dataCorrupted, got \(String(describing: error))")
            return
        }
    }

    @Test func unknownTypeDecodesWithOtherCSTA() throws {
        let event = try Self.decode(Self.event("CSTA_FOO", csta: #"{"connection":\#(Envelope.connection(1))}"#))
        #expect(event.type == "CSTA_FOO")
        #expect(event.eventType == nil)
        #expect(event.csta == .other)
    }

    @Test(arguments: ["CSTA_MONITOR_ENDED", "LINK_UP", "LINK_DOWN"])
    func eventsWithoutCallFieldsDecodeAsOther(_ type: String) throws {
        let event = try Self.decode(Self.event(type, csta: #"{"cause":"EC_NONE"}"#))
        #expect(event.eventType?.rawValue == type)
        #expect(event.csta == .other)
    }

    @Test func eventWithoutCSTADecodes() throws {
        let event = try Self.decode(Envelope.event("CSTA_DELIVERED"))
        #expect(event.eventType == .delivered)
        #expect(event.csta.delivered?.connection == nil)
    }

    // MARK: Device fields

    @Test func deviceAsStringOrObjectDecodesTheSameID() throws {
        let asStrings = #"{"connection":\#(Envelope.connection(1001)),"alertingDevice":"5001","calledDevice":"800"}"#
        let asObjects = """
            {"connection":\(Envelope.connection(1001)),\
            "alertingDevice":{"deviceID":"5001","deviceIDType":"IMPLICIT_PRIVATE","deviceIDStatus":"ID_PROVIDED"},\
            "calledDevice":{"deviceID":"800"}}
            """
        let fromStrings = try #require(try Self.decode(Self.event("CSTA_DELIVERED", csta: asStrings)).csta.delivered)
        let fromObjects = try #require(try Self.decode(Self.event("CSTA_DELIVERED", csta: asObjects)).csta.delivered)
        #expect(fromStrings.alertingDevice == DeviceID("5001"))
        #expect(fromObjects.alertingDevice == DeviceID("5001", type: "IMPLICIT_PRIVATE", status: "ID_PROVIDED"))
        #expect(fromStrings.alertingDevice?.deviceID == fromObjects.alertingDevice?.deviceID)
        #expect(fromStrings.calledDevice?.deviceID == "800")
        #expect(fromObjects.calledDevice == DeviceID("800"))
    }

    @Test func connectionDeviceIDMayBeAnObject() throws {
        let csta =
            #"{"establishedConnection":{"callID":"1001","deviceID":{"deviceID":"5001"},"#
            + #""devIDType":"STATIC_ID"}}"#
        let established = try #require(try Self.decode(Self.event("CSTA_ESTABLISHED", csta: csta)).csta.established)
        #expect(
            established.establishedConnection == ConnectionID(callID: 1001, deviceID: "5001", devIDType: "STATIC_ID"))
    }

    // MARK: CSTA cases

    @Test func established() throws {
        let csta = """
            {"establishedConnection":\(Envelope.connection(1001, "5001")),\
            "answeringDevice":{"deviceID":"5001","deviceIDType":"IMPLICIT_PRIVATE","deviceIDStatus":"ID_PROVIDED"},\
            "callingDevice":"6135550100","calledDevice":"8005551234","lastRedirectionDevice":"7001",\
            "localConnectionInfo":"CS_CONNECT","cause":"EC_NONE"}
            """
        let established = try #require(try Self.decode(Self.event("CSTA_ESTABLISHED", csta: csta)).csta.established)
        #expect(established.establishedConnection?.callID == 1001)
        #expect(established.answeringDevice == DeviceID("5001", type: "IMPLICIT_PRIVATE", status: "ID_PROVIDED"))
        #expect(established.callingDevice == DeviceID("6135550100"))
        #expect(established.calledDevice == DeviceID("8005551234"))
        #expect(established.lastRedirectionDevice == DeviceID("7001"))
        #expect(established.localConnectionInfo == "CS_CONNECT")
        #expect(established.cause == "EC_NONE")
    }

    @Test func callCleared() throws {
        let csta =
            #"{"clearedCall":{"callID":1001,"deviceID":"","devIDType":"STATIC_ID"},"#
            + #""localConnectionInfo":"CS_NULL","cause":"EC_CALL_CANCELLED"}"#
        let cleared = try #require(try Self.decode(Self.event("CSTA_CALL_CLEARED", csta: csta)).csta.callCleared)
        #expect(cleared.clearedCall == ConnectionID(callID: 1001, deviceID: "", devIDType: "STATIC_ID"))
        #expect(cleared.localConnectionInfo == "CS_NULL")
        #expect(cleared.cause == "EC_CALL_CANCELLED")
    }

    @Test func numericEnumerationsKeepTheirDigits() throws {
        let csta = #"{"clearedCall":\#(Envelope.connection(1001)),"localConnectionInfo":-1,"cause":32}"#
        let cleared = try #require(try Self.decode(Self.event("CSTA_CALL_CLEARED", csta: csta)).csta.callCleared)
        #expect(cleared.localConnectionInfo == "-1")
        #expect(cleared.cause == "32")
    }

    /// The event's own connection for every modelled type, read from the field the CSTA event type names.
    @Test(arguments: [
        ("CSTA_DELIVERED", "connection"),
        ("CSTA_ESTABLISHED", "establishedConnection"),
        ("CSTA_CONNECTION_CLEARED", "droppedConnection"),
        ("CSTA_CALL_CLEARED", "clearedCall"),
        ("CSTA_HELD", "heldConnection"),
        ("CSTA_RETRIEVED", "retrievedConnection"),
        ("CSTA_DIVERTED", "connection"),
        ("CSTA_FAILED", "failedConnection"),
        ("CSTA_QUEUED", "queuedConnection"),
        ("CSTA_ORIGINATED", "originatedConnection"),
        ("CSTA_NETWORK_REACHED", "connection"),
        ("CSTA_SERVICE_INITIATED", "initiatedConnection"),
        ("CSTA_TRANSFERRED", "primaryOldCall"),
        ("CSTA_CONFERENCED", "primaryOldCall"),
    ])
    func eachTypeDecodesItsOwnConnection(_ type: String, _ field: String) throws {
        let event = try Self.decode(Self.event(type, csta: #"{"\#(field)":\#(Envelope.connection(1001, "5001"))}"#))
        #expect(Self.ownConnection(event.csta) == ConnectionID(callID: 1001, deviceID: "5001", devIDType: "STATIC_ID"))
    }

    static func ownConnection(_ csta: CSTAEvent) -> ConnectionID? {
        switch csta {
        case .delivered(let value): value.connection
        case .established(let value): value.establishedConnection
        case .connectionCleared(let value): value.droppedConnection
        case .callCleared(let value): value.clearedCall
        case .held(let value): value.heldConnection
        case .retrieved(let value): value.retrievedConnection
        case .transferred(let value), .conferenced(let value): value.primaryOldCall
        case .diverted(let value): value.connection
        case .failed(let value): value.failedConnection
        case .queued(let value): value.queuedConnection
        case .originated(let value): value.originatedConnection
        case .networkReached(let value): value.connection
        case .serviceInitiated(let value): value.initiatedConnection
        case .other: nil
        }
    }

    @Test func otherTypesDecodeTheirDevices() throws {
        let held = try Self.decode(Self.event("CSTA_HELD", csta: #"{"holdingDevice":"5001"}"#))
        #expect(held.csta.held?.holdingDevice == DeviceID("5001"))
        let cleared = try Self.decode(Self.event("CSTA_CONNECTION_CLEARED", csta: #"{"releasingDevice":"5002"}"#))
        #expect(cleared.csta.connectionCleared?.releasingDevice == DeviceID("5002"))
        let divertedCSTA = #"{"divertingDevice":"5001","newDestination":{"deviceID":"6001"}}"#
        let diverted = try #require(try Self.decode(Self.event("CSTA_DIVERTED", csta: divertedCSTA)).csta.diverted)
        #expect(diverted.divertingDevice == DeviceID("5001"))
        #expect(diverted.newDestination == DeviceID("6001"))
        let reached = try Self.decode(Self.event("CSTA_NETWORK_REACHED", csta: #"{"trunkUsed":{"deviceID":"T1#2"}}"#))
        #expect(reached.csta.networkReached?.trunkUsed == DeviceID("T1#2"))
    }

    @Test func queuedReadsNumberQueuedLeniently() throws {
        let asNumber = try Self.decode(Self.event("CSTA_QUEUED", csta: #"{"queue":"3001","numberQueued":3}"#))
        let asString = try Self.decode(Self.event("CSTA_QUEUED", csta: #"{"queue":"3001","numberQueued":"4"}"#))
        let asJunk = try Self.decode(Self.event("CSTA_QUEUED", csta: #"{"queue":"3001","numberQueued":[4]}"#))
        #expect(asNumber.csta.queued?.numberQueued == 3)
        #expect(asNumber.csta.queued?.queue == DeviceID("3001"))
        #expect(asString.csta.queued?.numberQueued == 4)
        #expect(asJunk.csta.queued?.numberQueued == nil)
        #expect(asJunk.csta.queued?.queue == DeviceID("3001"))
    }

    // MARK: Transferred and Conferenced

    static func transferredCSTA(list: String?) -> String {
        var csta = """
            {"primaryOldCall":\(Envelope.connection(1001, "5001")),\
            "secondaryOldCall":\(Envelope.connection(1002, "5001")),\
            "transferringDevice":"5001","transferredDevice":{"deviceID":"5002"},\
            "localConnectionInfo":"CS_CONNECT","cause":"EC_TRANSFER"
            """
        if let list { csta += #","transferredConnections":\#(list)"# }
        return csta + "}"
    }

    @Test(arguments: [
        #"[{"party":{"callID":1003,"deviceID":"5002","devIDType":"STATIC_ID"},"staticDevice":"5002"},"#
            + #"{"party":{"callID":1003,"deviceID":"T1#1","devIDType":"DYNAMIC_ID"},"staticDevice":"T1#1"}]"#,
        #"{"count":2,"connection":[{"party":{"callID":1003,"deviceID":"5002","devIDType":"STATIC_ID"},"#
            + #""staticDevice":"5002"},{"party":{"callID":1003,"deviceID":"T1#1","devIDType":"DYNAMIC_ID"},"#
            + #""staticDevice":{"deviceID":"T1#1"}}]}"#,
        #"[{"callID":1003,"deviceID":"5002","devIDType":"STATIC_ID","staticDevice":"5002"},"#
            + #"{"callID":1003,"deviceID":"T1#1","devIDType":"DYNAMIC_ID","staticDevice":"T1#1"}]"#,
    ])
    func transferredConnectionListInAnyShape(_ list: String) throws {
        let event = try Self.decode(Self.event("CSTA_TRANSFERRED", csta: Self.transferredCSTA(list: list)))
        let merged = try #require(event.csta.transferred)
        #expect(merged.primaryOldCall?.callID == 1001)
        #expect(merged.secondaryOldCall?.callID == 1002)
        #expect(merged.controller == DeviceID("5001"))
        #expect(merged.addedParty == DeviceID("5002"))
        #expect(merged.localConnectionInfo == "CS_CONNECT")
        #expect(merged.cause == "EC_TRANSFER")
        #expect(
            merged.connections == [
                Connection(
                    party: ConnectionID(callID: 1003, deviceID: "5002", devIDType: "STATIC_ID"), staticDevice: "5002"),
                Connection(
                    party: ConnectionID(callID: 1003, deviceID: "T1#1", devIDType: "DYNAMIC_ID"), staticDevice: "T1#1"),
            ])
        #expect(merged.connections.last?.party.isTrunk == true)
        #expect(merged.resultingCallID == 1003)
    }

    @Test func resultingCallIDSkipsZeroCallIDs() throws {
        let list = #"[{"party":{"callID":0,"deviceID":"5002"}},{"party":{"callID":1003,"deviceID":"5003"}}]"#
        let event = try Self.decode(Self.event("CSTA_TRANSFERRED", csta: Self.transferredCSTA(list: list)))
        #expect(event.csta.transferred?.resultingCallID == 1003)
    }

    @Test func resultingCallIDFallsBackToTheSecondaryOldCall() throws {
        let event = try Self.decode(Self.event("CSTA_TRANSFERRED", csta: Self.transferredCSTA(list: nil)))
        let merged = try #require(event.csta.transferred)
        #expect(merged.connections.isEmpty)
        #expect(merged.resultingCallID == 1002)
    }

    @Test func resultingCallIDIsNilWhenNothingNamesACall() throws {
        let csta = """
            {"primaryOldCall":\(Envelope.connection(1001)),"secondaryOldCall":\(Envelope.connection(0)),\
            "transferredConnections":[{"party":{"callID":0,"deviceID":"5002"}}]}
            """
        let merged = try #require(try Self.decode(Self.event("CSTA_TRANSFERRED", csta: csta)).csta.transferred)
        #expect(merged.resultingCallID == nil)
    }

    @Test func conferencedUsesConferenceFieldNames() throws {
        let csta = """
            {"primaryOldCall":\(Envelope.connection(1001)),"secondaryOldCall":\(Envelope.connection(1002)),\
            "confController":"5001","addedParty":"5003",\
            "conferenceConnections":{"count":1,"connection":[{"party":{"callID":1002,"deviceID":"5003"}}]},\
            "transferringDevice":"9999","transferredDevice":"9998"}
            """
        let event = try Self.decode(Self.event("CSTA_CONFERENCED", csta: csta))
        let merged = try #require(event.csta.conferenced)
        #expect(merged.controller == DeviceID("5001"))
        #expect(merged.addedParty == DeviceID("5003"))
        #expect(merged.connections.map(\.party.callID) == [1002])
        #expect(merged.resultingCallID == 1002)
        #expect(event.csta.transferred == nil)
    }

    // MARK: Unexpected shapes never throw

    @Test func cstaFieldOfUnexpectedShapeIsNil() throws {
        let csta = """
            {"connection":\(Envelope.connection(1001)),"alertingDevice":[1,2],"callingDevice":true,\
            "calledDevice":"8005551234","lastRedirectionDevice":17,"localConnectionInfo":{"x":1},"cause":[1]}
            """
        let delivered = try #require(try Self.decode(Self.event("CSTA_DELIVERED", csta: csta)).csta.delivered)
        #expect(delivered.connection?.callID == 1001)
        #expect(delivered.alertingDevice == nil)
        #expect(delivered.callingDevice == nil)
        #expect(delivered.calledDevice == DeviceID("8005551234"))
        #expect(delivered.lastRedirectionDevice == nil)
        #expect(delivered.localConnectionInfo == nil)
        #expect(delivered.cause == nil)
    }

    @Test func connectionOfUnexpectedShapeIsNil() throws {
        let csta = #"{"heldConnection":"1001","holdingDevice":"5001"}"#
        let held = try #require(try Self.decode(Self.event("CSTA_HELD", csta: csta)).csta.held)
        #expect(held.heldConnection == nil)
        #expect(held.holdingDevice == DeviceID("5001"))
    }

    @Test func connectionListOfUnexpectedShapeIsEmpty() throws {
        let event = try Self.decode(Self.event("CSTA_TRANSFERRED", csta: Self.transferredCSTA(list: #""oops""#)))
        let merged = try #require(event.csta.transferred)
        #expect(merged.connections.isEmpty)
        #expect(merged.resultingCallID == 1002)
    }

    @Test(arguments: [#""garbage""#, "[1,2]", "42", "null"])
    func cstaThatIsNotAnObjectDoesNotThrow(_ csta: String) throws {
        let event = try Self.decode(Self.event("CSTA_DELIVERED", csta: csta))
        #expect(event.eventType == .delivered)
        #expect(Self.ownConnection(event.csta) == nil)
    }

    @Test func attFieldsOfUnexpectedShapeAreNil() throws {
        let att = """
            {"deliveredType":"DELIVERED_TO_ACD","split":{"weird":true},"userEnteredCode":"x",\
            "ucid":"00025000160955721139","distributingVDN":[1,2],"trunkGroup":{"a":1},"userInfo":"x"}
            """
        let event = try Self.decode(Self.event("CSTA_DELIVERED", csta: "{}", att: att))
        let decoded = try #require(event.att)
        #expect(decoded.deliveredType == "DELIVERED_TO_ACD")
        #expect(decoded.ucidValue == UCID("00025000160955721139"))
        #expect(decoded.distributingVDN == nil)
        #expect(decoded.trunkGroup == nil)
        #expect(decoded.userInfo == nil)
    }

    @Test func attSplitOfUnexpectedShapeIsNil() throws {
        let event = try Self.decode(Self.event("CSTA_DELIVERED", csta: "{}", att: #"{"split":{"weird":true}}"#))
        let att = try #require(event.att)
        #expect(att.split == nil)
    }

    @Test func attUserEnteredCodeOfUnexpectedShapeIsNil() throws {
        let event = try Self.decode(Self.event("CSTA_DELIVERED", csta: "{}", att: #"{"userEnteredCode":"x"}"#))
        let att = try #require(event.att)
        #expect(att.userEnteredCode == nil)
    }

    @Test func attStructsOfUnexpectedShapeAreNil() throws {
        let att = #"{"lookaheadInfo":"x","originalCallInfo":7,"userInfo":[1]}"#
        let event = try Self.decode(Self.event("CSTA_DELIVERED", csta: "{}", att: att))
        let decoded = try #require(event.att)
        #expect(decoded.lookaheadInfo == nil)
        #expect(decoded.originalCallInfo == nil)
        #expect(decoded.userInfo == nil)
    }
}

extension CSTAEvent {
    var delivered: Delivered? {
        guard case .delivered(let value) = self else { return nil }
        return value
    }

    var established: Established? {
        guard case .established(let value) = self else { return nil }
        return value
    }

    var callCleared: CallCleared? {
        guard case .callCleared(let value) = self else { return nil }
        return value
    }

    var connectionCleared: ConnectionCleared? {
        guard case .connectionCleared(let value) = self else { return nil }
        return value
    }

    var held: Held? {
        guard case .held(let value) = self else { return nil }
        return value
    }

    var diverted: Diverted? {
        guard case .diverted(let value) = self else { return nil }
        return value
    }

    var networkReached: NetworkReached? {
        guard case .networkReached(let value) = self else { return nil }
        return value
    }

    var queued: Queued? {
        guard case .queued(let value) = self else { return nil }
        return value
    }

    var transferred: Merged? {
        guard case .transferred(let value) = self else { return nil }
        return value
    }

    var conferenced: Merged? {
        guard case .conferenced(let value) = self else { return nil }
        return value
    }
}
