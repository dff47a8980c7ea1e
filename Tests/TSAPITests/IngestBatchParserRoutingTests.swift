import Foundation
import TSAPI
import Testing

/// What the parser pulls out of `att` and `csta` to route an event: the UCID and the callIDs.
@Suite("IngestBatchParser: UCID and callID extraction")
struct IngestBatchParserRoutingTests {
    // MARK: att.ucid

    @Test func validUCID() throws {
        let att = #"{"deliveredType":"DELIVERED_TO_ACD","ucid":"00025000160955721139"}"#
        let event = try parseSingle(Envelope.event(att: att))
        #expect(event.ucid == UCID("00025000160955721139"))
        #expect(event.ucid != nil)
        #expect(event.uninterpretedFields.isEmpty)
    }

    @Test func ucidAfterNestedPrivateData() throws {
        let att =
            #"{"userInfo":{"type":"UUI_IA5_ASCII","data":"x"},"trunkList":[{"a":[1]}],"#
            + #""ucid":"00001000421700000000"}"#
        let event = try parseSingle(Envelope.event(att: att))
        #expect(event.ucid?.rawValue == "00001000421700000000")
    }

    @Test(arguments: [#""00000000000000000000""#, #""""#, "null"])
    func noneUCIDIsNilAndNotFlagged(_ value: String) throws {
        let event = try parseSingle(Envelope.event(att: #"{"ucid":\#(value)}"#))
        #expect(event.ucid == nil)
        #expect(event.uninterpretedFields.isEmpty)
    }

    @Test(arguments: [
        #""123""#, #""0002500016095572113x""#, #""000250001609557211390""#, #""0000000000000000000a""#,
    ])
    func malformedUCIDIsNilAndFlagged(_ value: String) throws {
        let event = try parseSingle(Envelope.event(att: #"{"ucid":\#(value)}"#))
        #expect(event.ucid == nil)
        #expect(event.uninterpretedFields == ["att.ucid"])
    }

    @Test(arguments: ["25000160955721139", "true", "[1]", #"{"ucid":"00025000160955721139"}"#])
    func nonStringUCIDIsNilAndFlagged(_ value: String) throws {
        let event = try parseSingle(Envelope.event(att: #"{"ucid":\#(value)}"#))
        #expect(event.ucid == nil)
        #expect(event.uninterpretedFields == ["att.ucid"])
    }

    /// Only the event's own `att.ucid` routes it; the original call's UCID is another call's.
    @Test func originalCallInfoUCIDIsNotTheEventsUCID() throws {
        let att = #"{"originalCallInfo":{"reason":"OR_TRANSFERRED","ucid":"00025000160955721139"}}"#
        let event = try parseSingle(Envelope.event(att: att))
        #expect(event.ucid == nil)
        #expect(event.uninterpretedFields.isEmpty)
    }

    @Test(arguments: [#""opaque""#, "[1,2]", "42"])
    func attThatIsNotAnObjectIsStoredAndFlagged(_ att: String) throws {
        let event = try parseSingle(Envelope.event(att: att))
        #expect(event.ucid == nil)
        #expect(event.uninterpretedFields == ["att"])
        #expect(event.rawJSON.contains(#""att":\#(att)"#))
    }

    @Test func nullATTIsNotFlagged() throws {
        let event = try parseSingle(Envelope.event(att: "null"))
        #expect(event.uninterpretedFields.isEmpty)
    }

    // MARK: csta: the event's own connection

    /// Each event type routes by its own connection field; a decoy field must be ignored.
    @Test(arguments: [
        (EventType.delivered, "connection"),
        (.established, "establishedConnection"),
        (.connectionCleared, "droppedConnection"),
        (.callCleared, "clearedCall"),
        (.held, "heldConnection"),
        (.retrieved, "retrievedConnection"),
        (.diverted, "connection"),
        (.failed, "failedConnection"),
        (.queued, "queuedConnection"),
        (.originated, "originatedConnection"),
        (.networkReached, "connection"),
        (.serviceInitiated, "initiatedConnection"),
    ])
    func callIDComesFromTheTypesConnectionField(_ type: EventType, _ field: String) throws {
        let decoyField = field == "connection" ? "establishedConnection" : "connection"
        let csta = #"{"\#(decoyField)":\#(Envelope.connection(9999)),"\#(field)":\#(Envelope.connection(1001))}"#
        let event = try parseSingle(Envelope.event(type.rawValue, csta: csta))
        #expect(event.eventType == type)
        #expect(event.callID == 1001)
        #expect(event.oldCallIDs.isEmpty)
        #expect(event.resultingCallID == nil)
        #expect(event.uninterpretedFields.isEmpty)
    }

    @Test func callIDAsNumericString() throws {
        let csta = #"{"connection":{"callID":"1001","deviceID":"5001","devIDType":"STATIC_ID"}}"#
        #expect(try parseSingle(Envelope.event("CSTA_DELIVERED", csta: csta)).callID == 1001)
    }

    @Test func callIDFromAConnectionWithParty() throws {
        let csta = #"{"heldConnection":{"party":{"callID":1001,"deviceID":"5001"},"staticDevice":"5001"}}"#
        #expect(try parseSingle(Envelope.event("CSTA_HELD", csta: csta)).callID == 1001)
    }

    @Test func cstaBeforeTypeStillRoutes() throws {
        let text = """
            {"csta":{"clearedCall":{"callID":1001,"deviceID":"","devIDType":"STATIC_ID"},"cause":"EC_NONE"},\
            "source":"aes1","seq":1,"time":"\(Envelope.time)","type":"CSTA_CALL_CLEARED"}
            """
        let event = try parseSingle(text)
        #expect(event.eventType == .callCleared)
        #expect(event.callID == 1001)
    }

    @Test func callIDZeroMeansAbsent() throws {
        let csta = #"{"connection":\#(Envelope.connection(0))}"#
        let event = try parseSingle(Envelope.event("CSTA_DELIVERED", csta: csta))
        #expect(event.callID == nil)
    }

    @Test func connectionWithoutCallIDIsFlagged() throws {
        let event = try parseSingle(Envelope.event("CSTA_DELIVERED", csta: #"{"connection":{"deviceID":"5001"}}"#))
        #expect(event.callID == nil)
        #expect(event.uninterpretedFields == ["csta.connection"])
    }

    @Test(arguments: [#""1001""#, "1001", "[1001]"])
    func connectionOfAnotherShapeIsFlagged(_ value: String) throws {
        let event = try parseSingle(Envelope.event("CSTA_DELIVERED", csta: #"{"connection":\#(value)}"#))
        #expect(event.callID == nil)
        #expect(event.uninterpretedFields == ["csta.connection"])
    }

    @Test(arguments: [EventType.monitorEnded, .linkUp, .linkDown])
    func eventsWithoutACallHaveNoCallID(_ type: EventType) throws {
        let csta = #"{"connection":\#(Envelope.connection(1001))}"#
        let event = try parseSingle(Envelope.event(type.rawValue, csta: csta))
        #expect(event.eventType == type)
        #expect(event.callID == nil)
    }

    @Test(arguments: [#""garbage""#, "[1,2,3]", "17", "true"])
    func cstaThatIsNotAnObjectIsStoredAndFlagged(_ csta: String) throws {
        let event = try parseSingle(Envelope.event("CSTA_DELIVERED", csta: csta))
        #expect(event.eventType == .delivered)
        #expect(event.callID == nil)
        #expect(event.uninterpretedFields.contains("csta"))
        #expect(event.rawJSON.contains(#""csta":\#(csta)"#))
    }

    @Test func nullCSTAIsNotFlagged() throws {
        let event = try parseSingle(Envelope.event("CSTA_DELIVERED", csta: "null"))
        #expect(event.uninterpretedFields.isEmpty)
    }

    @Test func flagsFromATTAndCSTAAccumulate() throws {
        let event = try parseSingle(Envelope.event("CSTA_DELIVERED", csta: #""x""#, att: #"{"ucid":"1"}"#))
        #expect(Set(event.uninterpretedFields) == ["csta", "att.ucid"])
    }

    @Test func routingFieldsOfTheContractExample() throws {
        let text = """
            {"id":"aes1-000000042","source":"aes1","switch":"cm1","seq":42,"time":"2026-11-20T10:00:01.250Z",
             "monitor":201,"type":"CSTA_DELIVERED",
             "csta":{"connection":{"callID":1001,"deviceID":"5001","devIDType":"STATIC_ID"},"alertingDevice":"5001",
               "callingDevice":{"deviceID":"6135550100","deviceIDType":"EXPLICIT_PUBLIC_UNKNOWN",
                 "deviceIDStatus":"ID_PROVIDED"},
               "calledDevice":"8005551234","lastRedirectionDevice":"7001","localConnectionInfo":"CS_ALERTING",
               "cause":"EC_NONE"},
             "att":{"deliveredType":"DELIVERED_TO_STATION","split":"3001","trunkGroup":"10","trunkMember":"5",
               "ucid":"00001000421700000000","distributingVDN":"7001",
               "userEnteredCode":{"type":"UE_CALL_PROMPTER","indicator":"UE_COLLECT","data":"4321","collectVDN":"7001"},
               "userInfo":{"type":"UUI_IA5_ASCII","data":"ACCT=998877;LANG=FR"},
               "originalCallInfo":{"reason":"OR_NONE"}}}
            """
        let event = try parseSingle(text)
        #expect(event.id == "aes1-000000042")
        #expect(event.switchName == "cm1")
        #expect(event.monitor == 201)
        #expect(event.callID == 1001)
        #expect(event.ucid?.rawValue == "00001000421700000000")
        #expect(event.uninterpretedFields.isEmpty)
        #expect(event.rawJSON == text)
    }

    // MARK: csta: Transferred and Conferenced

    static func merged(
        _ type: EventType = .transferred, primary: Int64 = 1001, secondary: Int64 = 1002, list: String?
    ) -> String {
        let listField = type == .conferenced ? "conferenceConnections" : "transferredConnections"
        var members = [
            #""primaryOldCall":\#(Envelope.connection(primary, "5001"))"#,
            #""secondaryOldCall":\#(Envelope.connection(secondary, "5001"))"#,
            #""transferringDevice":"5001","transferredDevice":"5002""#,
        ]
        if let list { members.append(#""\#(listField)":\#(list)"#) }
        members.append(#""localConnectionInfo":"CS_CONNECT","cause":"EC_TRANSFER""#)
        return Envelope.event(type.rawValue, csta: "{" + members.joined(separator: ",") + "}")
    }

    /// The connection list names the surviving call; 1003 differs from both old calls so the
    /// test shows where resultingCallID came from.
    @Test(arguments: [
        #"[{"party":{"callID":1003,"deviceID":"5002","devIDType":"STATIC_ID"},"staticDevice":"5002"},"#
            + #"{"party":{"callID":1003,"deviceID":"T1#1","devIDType":"DYNAMIC_ID"},"staticDevice":null}]"#,
        #"{"count":2,"connection":[{"party":{"callID":1003,"deviceID":"5002"},"staticDevice":"5002"},"#
            + #"{"party":{"callID":1003,"deviceID":"T1#1"},"staticDevice":"T1#1"}]}"#,
        #"{"connection":[{"party":{"callID":1003,"deviceID":"5002"}}],"count":1}"#,
        #"[{"callID":1003,"deviceID":"5002"},{"callID":1003,"deviceID":"T1#1"}]"#,
        #"[{"party":{"callID":"1003","deviceID":"5002"}}]"#,
        #"[{"party":{"callID":0,"deviceID":"5002"}},{"party":{"callID":1003,"deviceID":"T1#1"}}]"#,
    ])
    func transferredReadsTheConnectionList(_ list: String) throws {
        let event = try parseSingle(Self.merged(list: list))
        #expect(event.eventType == .transferred)
        #expect(event.callID == 1001)
        #expect(event.oldCallIDs == [1001, 1002])
        #expect(event.resultingCallID == 1003)
        #expect(event.uninterpretedFields.isEmpty)
    }

    @Test func conferencedReadsConferenceConnections() throws {
        let list = #"{"count":1,"connection":[{"party":{"callID":1003,"deviceID":"5003"},"staticDevice":"5003"}]}"#
        let event = try parseSingle(Self.merged(.conferenced, list: list))
        #expect(event.eventType == .conferenced)
        #expect(event.callID == 1001)
        #expect(event.oldCallIDs == [1001, 1002])
        #expect(event.resultingCallID == 1003)
    }

    @Test func transferredIgnoresAConferenceList() throws {
        let csta = """
            {"primaryOldCall":\(Envelope.connection(1001)),"secondaryOldCall":\(Envelope.connection(1002)),\
            "conferenceConnections":[{"party":{"callID":1003,"deviceID":"5002"}}]}
            """
        let event = try parseSingle(Envelope.event("CSTA_TRANSFERRED", csta: csta))
        #expect(event.resultingCallID == 1002)
    }

    @Test func withoutAConnectionListTheSecondaryOldCallSurvives() throws {
        let event = try parseSingle(Self.merged(list: nil))
        #expect(event.callID == 1001)
        #expect(event.oldCallIDs == [1001, 1002])
        #expect(event.resultingCallID == 1002)
    }

    @Test func emptyConnectionListFallsBackToTheSecondaryOldCall() throws {
        let event = try parseSingle(Self.merged(list: "[]"))
        #expect(event.resultingCallID == 1002)
        #expect(event.uninterpretedFields.isEmpty)
    }

    @Test func zeroSecondaryOldCallIsDropped() throws {
        let list = #"[{"party":{"callID":1001,"deviceID":"5002"}}]"#
        let event = try parseSingle(Self.merged(secondary: 0, list: list))
        #expect(event.callID == 1001)
        #expect(event.oldCallIDs == [1001])
        #expect(event.resultingCallID == 1001)
    }

    @Test func zeroPrimaryOldCallIsDropped() throws {
        let list = #"[{"party":{"callID":1003,"deviceID":"5002"}}]"#
        let event = try parseSingle(Self.merged(primary: 0, list: list))
        #expect(event.oldCallIDs == [1002])
        #expect(event.resultingCallID == 1003)
    }

    @Test func connectionListOfAnotherShapeIsFlagged() throws {
        let event = try parseSingle(Self.merged(list: #""1003""#))
        #expect(event.callID == 1001)
        #expect(event.resultingCallID == 1002)
        #expect(event.uninterpretedFields == ["csta.transferredConnections"])
    }

    @Test func unknownTypeWithMergeFieldsHasNoCallIDs() throws {
        let csta = #"{"primaryOldCall":\#(Envelope.connection(1001)),"secondaryOldCall":\#(Envelope.connection(1002))}"#
        let event = try parseSingle(Envelope.event("CSTA_TRANSFERRED_V2", csta: csta))
        #expect(event.callID == nil)
        #expect(event.oldCallIDs.isEmpty)
        #expect(event.resultingCallID == nil)
    }
}
