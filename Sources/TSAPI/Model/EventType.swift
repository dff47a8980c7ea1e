/// The TSAPI event names the ingest contract knows (the ingest envelope, docs/api.md).
///
/// Any other name is still stored, raw and flagged, so a new AES release or adapter never loses data; the
/// projections simply ignore what they cannot interpret.
package enum EventType: String, CaseIterable, Sendable, Codable {
    case delivered = "CSTA_DELIVERED"
    case established = "CSTA_ESTABLISHED"
    case connectionCleared = "CSTA_CONNECTION_CLEARED"
    case callCleared = "CSTA_CALL_CLEARED"
    case held = "CSTA_HELD"
    case retrieved = "CSTA_RETRIEVED"
    case transferred = "CSTA_TRANSFERRED"
    case conferenced = "CSTA_CONFERENCED"
    case diverted = "CSTA_DIVERTED"
    case failed = "CSTA_FAILED"
    case queued = "CSTA_QUEUED"
    case originated = "CSTA_ORIGINATED"
    case networkReached = "CSTA_NETWORK_REACHED"
    case serviceInitiated = "CSTA_SERVICE_INITIATED"
    case monitorEnded = "CSTA_MONITOR_ENDED"
    case linkUp = "LINK_UP"
    case linkDown = "LINK_DOWN"
    /// The calls at one device as AES has them after a gap in a link's events.
    case linkSnapshot = "LINK_SNAPSHOT"
    /// Written by CallTrail itself when a UCID becomes known for events stored before it was (docs/architecture.md).
    case ucidLinked = "CALLTRAIL_UCID_LINKED"
    /// Written by CallTrail's user-data service (`/v1/userdata`): a key created, its data replaced, merged or
    /// deleted, and data attached to a call without a key. The events are the truth; the `userdata` table
    /// is their projection.
    case userDataSet = "CALLTRAIL_USERDATA_SET"
    case userDataReplaced = "CALLTRAIL_USERDATA_REPLACED"
    case userDataMerged = "CALLTRAIL_USERDATA_MERGED"
    case userDataDeleted = "CALLTRAIL_USERDATA_DELETED"
    case callUserDataSet = "CALLTRAIL_CALL_USERDATA_SET"
    /// Written by CallTrail's access control: an API token made or revoked, and requests refused for want of a
    /// valid token or of a scope (counted per address and reason over a few seconds, so a flood of bad requests
    /// is a few events, not a flood of them). The audit (`GET /v1/audit`) reads them.
    case tokenCreated = "CALLTRAIL_TOKEN_CREATED"
    case tokenRevoked = "CALLTRAIL_TOKEN_REVOKED"
    case accessRefused = "CALLTRAIL_ACCESS_REFUSED"

    /// CallTrail writes these itself; a client that posts one has it stored as an unknown type, not obeyed.
    package var isCallTrailOwn: Bool {
        switch self {
        case .ucidLinked, .userDataSet, .userDataReplaced, .userDataMerged, .userDataDeleted, .callUserDataSet,
            .tokenCreated, .tokenRevoked, .accessRefused:
            true
        default: false
        }
    }

    /// The user-data service's events.
    package var isUserData: Bool {
        switch self {
        case .userDataSet, .userDataReplaced, .userDataMerged, .userDataDeleted, .callUserDataSet: true
        default: false
        }
    }

    /// Access control's events.
    package var isAccess: Bool { self == .tokenCreated || self == .tokenRevoked || self == .accessRefused }

    /// Events whose time is the server's clock, not a switch's: the user-data service's and access control's.
    package var isStampedByServer: Bool { isUserData || isAccess }

    /// The CSTA field that holds the event's own connection, whose callID routes the event.
    /// Transferred and Conferenced name two old calls and a connection list instead.
    package var connectionField: String? {
        switch self {
        case .delivered, .diverted, .networkReached: "connection"
        case .established: "establishedConnection"
        case .connectionCleared: "droppedConnection"
        case .callCleared: "clearedCall"
        case .held: "heldConnection"
        case .retrieved: "retrievedConnection"
        case .failed: "failedConnection"
        case .queued: "queuedConnection"
        case .originated: "originatedConnection"
        case .serviceInitiated: "initiatedConnection"
        case .transferred, .conferenced: "primaryOldCall"
        case .monitorEnded, .linkUp, .linkDown, .linkSnapshot, .ucidLinked, .userDataSet, .userDataReplaced,
            .userDataMerged,
            .userDataDeleted, .callUserDataSet, .tokenCreated, .tokenRevoked, .accessRefused:
            nil
        }
    }

    /// The connection list that names the surviving call after a merge.
    package var connectionListField: String? {
        switch self {
        case .transferred: "transferredConnections"
        case .conferenced: "conferenceConnections"
        default: nil
        }
    }
}
