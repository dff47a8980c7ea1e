import TSAPI
import Testing

@Suite("EventType")
struct EventTypeTests {
    @Test func namesAreTheTSAPINames() {
        let names = Set(EventType.allCases.map(\.rawValue))
        let contract: Set = [
            "CSTA_DELIVERED", "CSTA_ESTABLISHED", "CSTA_CONNECTION_CLEARED", "CSTA_CALL_CLEARED", "CSTA_HELD",
            "CSTA_RETRIEVED", "CSTA_TRANSFERRED", "CSTA_CONFERENCED", "CSTA_DIVERTED", "CSTA_FAILED", "CSTA_QUEUED",
            "CSTA_ORIGINATED", "CSTA_NETWORK_REACHED", "CSTA_SERVICE_INITIATED", "CSTA_MONITOR_ENDED", "LINK_UP",
            "LINK_DOWN", "LINK_SNAPSHOT", "CALLTRAIL_UCID_LINKED", "CALLTRAIL_USERDATA_SET",
            "CALLTRAIL_USERDATA_REPLACED",
            "CALLTRAIL_USERDATA_MERGED", "CALLTRAIL_USERDATA_DELETED", "CALLTRAIL_CALL_USERDATA_SET",
            "CALLTRAIL_TOKEN_CREATED", "CALLTRAIL_TOKEN_REVOKED", "CALLTRAIL_ACCESS_REFUSED",
        ]
        #expect(names == contract)
        #expect(EventType.allCases.count == contract.count)
    }

    /// Reference §1.3: the ConnectionID_t field each event structure starts with.
    @Test(arguments: [
        (EventType.delivered, "connection"),
        (.established, "establishedConnection"),
        (.connectionCleared, "droppedConnection"),
        (.callCleared, "clearedCall"),
        (.held, "heldConnection"),
        (.retrieved, "retrievedConnection"),
        (.transferred, "primaryOldCall"),
        (.conferenced, "primaryOldCall"),
        (.diverted, "connection"),
        (.failed, "failedConnection"),
        (.queued, "queuedConnection"),
        (.originated, "originatedConnection"),
        (.networkReached, "connection"),
        (.serviceInitiated, "initiatedConnection"),
    ])
    func connectionField(_ type: EventType, _ field: String) {
        #expect(type.connectionField == field)
    }

    @Test(arguments: [EventType.monitorEnded, .linkUp, .linkDown, .ucidLinked])
    func eventsWithoutAConnection(_ type: EventType) {
        #expect(type.connectionField == nil)
        #expect(type.connectionListField == nil)
    }

    @Test func connectionListField() {
        #expect(EventType.transferred.connectionListField == "transferredConnections")
        #expect(EventType.conferenced.connectionListField == "conferenceConnections")
        let others = EventType.allCases.filter { $0 != .transferred && $0 != .conferenced }
        #expect(others.allSatisfy { $0.connectionListField == nil })
    }
}
