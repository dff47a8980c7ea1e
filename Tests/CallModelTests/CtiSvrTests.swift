import CallModel
import Foundation
import TSAPI
import Testing

/// The ctiSVR WebSocket JSON (`shared/reference/ctisvr-websocket.md`) written from the scenario library's feed,
/// and ctiSVR requests read back.
struct CtiSvrTests {
    /// The fields the reference lists for each event type, besides msgtype, eventtype, referenceid, time and
    /// callid; written out from the reference rather than from the code, so a dropped field fails here.
    static let referenceFields: [String: (strings: [String], numbers: [String])] = [
        "offer": (
            [
                "origcalling", "origcalled", "calling", "called", "alerting", "ucid", "uui", "uec", "split", "custdata",
                "trunkgroup", "trunkmember", "lastredirection",
            ], []
        ),
        "connect": (
            [
                "origcalling", "origcalled", "calling", "called", "answering", "ucid", "uui", "uec", "split",
                "custdata",
                "trunkgroup", "trunkmember", "lastredirection",
            ], []
        ),
        "disconnect": (["releasing", "uui", "custdata"], []),
        "hold": (["holding"], []),
        "retrieve": (["retrieving"], []),
        "transfer": (
            [
                "transferring", "transferred", "ucid", "uui", "custdata", "trunkgroup", "trunkmember", "party1",
                "party2",
                "party3", "party4", "party5", "party6",
            ], ["primarycallid", "secondarycallid"]
        ),
        "conference": (
            [
                "controller", "addedparty", "ucid", "uui", "custdata", "trunkgroup", "trunkmember", "party1", "party2",
                "party3", "party4", "party5", "party6",
            ], ["primarycallid", "secondarycallid"]
        ),
    ]

    static func feed(_ scenario: String) throws -> [FeedMessage] {
        var tracker = JourneyTracker()
        for event in try ScenarioJourneyTests.events(scenario) { tracker.apply(event) }
        return tracker.takeFeed()
    }

    static func message(
        _ scenario: String, _ kind: FeedMessage.Kind, device: String? = nil, index: Int = 0
    ) throws -> FeedMessage {
        let matching = try feed(scenario).filter { $0.kind == kind && (device == nil || $0.device == device) }
        try #require(matching.count > index, "\(scenario) has no \(kind) #\(index) for \(device ?? "any device")")
        return matching[index]
    }

    static func parse(_ text: String) throws -> JSONTree {
        let tree = try JSONTree(parsing: text)
        try #require(tree.isObject, "not an object: \(text)")
        return tree
    }

    /// User data of the journey of `message`: `data` attached to its call, and optionally a key carried in from
    /// another site whose origin names another caller.
    static func userData(
        for message: FeedMessage, data: JSONTree, foreignCaller: String? = nil
    ) throws -> JourneyUserData {
        let ucid = try #require(message.ucid)
        let now = message.time
        var records = [
            UserDataRecord(
                id: "call:\(ucid.rawValue)", key: nil, ucid: ucid, data: data, origin: UserDataOrigin(ucid: ucid),
                createdAt: now.addingTimeInterval(-60), updatedAt: now.addingTimeInterval(-60),
                expiresAt: now.addingTimeInterval(3600), deletedAt: nil, version: 1)
        ]
        var carried: [CarriedKey] = []
        if let foreignCaller {
            let key = UserDataKey.random()
            let otherSite = try #require(UCID("00002000051795160000"))
            records.append(
                UserDataRecord(
                    id: key.rawValue, key: key, ucid: otherSite, data: .object([("site", .string("OTT"))]),
                    origin: UserDataOrigin(ucid: otherSite, originalAni: foreignCaller, originalDnis: "8885550000"),
                    createdAt: now.addingTimeInterval(-300), updatedAt: now.addingTimeInterval(-300),
                    expiresAt: now.addingTimeInterval(3600), deletedAt: nil, version: 1))
            carried.append(CarriedKey(key: key, ucid: ucid, time: now.addingTimeInterval(-120)))
        }
        return JourneyUserData(carried: carried, ucids: message.journeyUcids + [ucid], records: records, now: now)
    }

    // MARK: - Events

    /// The reason for the shapes: a consulted agent's ctiSVR integration pops the customer, not the agent who
    /// dialled, from the same offer JSON it already reads.
    @Test func theConsultedAgentsOfferNamesTheCustomer() throws {
        let offer = try Self.message("c-consultative-transfer", .offer, device: "5002")
        let tree = try Self.parse(CtiSvr.event(offer, referenceID: 7, userData: nil))
        #expect(tree["msgtype"] == .string("event"))
        #expect(tree["eventtype"] == .string("offer"))
        #expect(tree["referenceid"] == .number("7"))
        #expect(tree["time"]?.integer == Int64(offer.time.timeIntervalSince1970.rounded(.down)))
        #expect(tree["callid"]?.integer == offer.callID)
        #expect(tree["origcalling"]?.string == "6135555493")
        #expect(tree["origcalled"]?.string == "8005551234")
        #expect(tree["calling"]?.string == "5001", "the consultation's own caller is the agent")
        #expect(tree["called"]?.string == "5002")
        #expect(tree["alerting"]?.string == "5002")
        #expect(tree["ucid"]?.string == "00001000021795168934", "the consultation's own UCID")
        #expect(tree["uui"]?.string == "ACCT=998877;LANG=FR")
        #expect(tree["split"]?.string == "3001")
        #expect(tree["custdata"]?.string == "")
        for name in try #require(Self.referenceFields["offer"]).strings {
            #expect(tree[name]?.string != nil, "offer lacks \(name) as a string")
        }
    }

    /// Every message of every scenario: the fields the reference lists, strings as strings (never null) and the
    /// numbers as integers.
    @Test(arguments: ScenarioJourneyTests.scenarios)
    func everyEventHasTheReferenceFields(_ scenario: String) throws {
        let feed = try Self.feed(scenario)
        try #require(!feed.isEmpty)
        for message in feed {
            let text = CtiSvr.event(message, referenceID: 1, userData: nil)
            let tree = try Self.parse(text)
            let eventType = try #require(tree["eventtype"]?.string)
            #expect(eventType == message.kind.rawValue)
            #expect(tree["msgtype"]?.string == "event")
            for name in ["referenceid", "time", "callid"] {
                #expect(tree[name]?.integer != nil, "\(scenario) \(eventType): \(name) is not an integer in \(text)")
            }
            let fields = try #require(Self.referenceFields[eventType], "no reference fields for \(eventType)")
            for name in fields.strings {
                #expect(tree[name]?.string != nil, "\(scenario) \(eventType): \(name) is not a string in \(text)")
            }
            for name in fields.numbers {
                #expect(tree[name]?.integer != nil, "\(scenario) \(eventType): \(name) is not an integer in \(text)")
            }
            #expect(!text.contains("null"), "ctiSVR values are never null: \(text)")
        }
    }

    @Test func unknownValuesAreEmptyStringsNotNull() throws {
        var offer = try Self.message("a-inbound-answered", .offer)
        offer.ucid = nil
        offer.trunkGroup = nil
        offer.originalAni = nil
        offer.calling = nil
        let text = CtiSvr.event(offer, referenceID: 1, userData: nil)
        let tree = try Self.parse(text)
        #expect(tree["ucid"] == .string(""))
        #expect(tree["trunkgroup"] == .string(""))
        #expect(tree["origcalling"] == .string(""), "neither the journey nor the call knows the caller")
        #expect(!text.contains("null"))
    }

    @Test func connectNamesTheAnsweringStation() throws {
        let connect = try Self.message("c-consultative-transfer", .connect, device: "5002")
        let tree = try Self.parse(CtiSvr.event(connect, referenceID: 3, userData: nil))
        #expect(tree["eventtype"]?.string == "connect")
        #expect(tree["answering"]?.string == "5002")
        #expect(tree["origcalling"]?.string == "6135555493")
        #expect(tree["alerting"] == nil, "a connect has answering, not alerting")
    }

    @Test func transferNamesBothCallsAndTheParties() throws {
        let transfer = try Self.message("c-consultative-transfer", .transfer, device: "5002")
        let tree = try Self.parse(CtiSvr.event(transfer, referenceID: 2, userData: nil))
        #expect(tree["eventtype"]?.string == "transfer")
        #expect(tree["transferring"]?.string == "5001")
        #expect(tree["transferred"]?.string == "5002")
        #expect(tree["primarycallid"] == .number("1001"))
        #expect(tree["secondarycallid"] == .number("1002"))
        #expect(tree["ucid"]?.string == "00001000011795168800", "the merged call keeps the customer's UCID")
        #expect(tree["party1"]?.string == "5002")
        for slot in 2...6 { #expect(tree["party\(slot)"] == .string(""), "party\(slot)") }
        #expect(tree["controller"] == nil)
    }

    @Test func conferenceNamesTheControllerAndAddedParty() throws {
        // The second conference of the scenario brings in 5003 with two agents already on the call.
        let conference = try Self.message("three-agent-conference", .conference, device: "5003")
        let tree = try Self.parse(CtiSvr.event(conference, referenceID: 2, userData: nil))
        #expect(tree["eventtype"]?.string == "conference")
        #expect(tree["controller"]?.string == "5001")
        #expect(tree["addedparty"]?.string == "5003")
        #expect(tree["primarycallid"] == .number("1002"))
        #expect(tree["secondarycallid"] == .number("1001"))
        #expect([1, 2, 3, 4, 5, 6].map { tree["party\($0)"]?.string } == ["5001", "5002", "5003", "", "", ""])
        #expect(tree["transferring"] == nil)
    }

    @Test func aCallOfMoreThanSixPartiesNamesTheFirstSix() throws {
        var conference = try Self.message("three-agent-conference", .conference)
        conference.parties = (1...8).map { "500\($0)" }
        let tree = try Self.parse(CtiSvr.event(conference, referenceID: 1, userData: nil))
        #expect(tree["party6"]?.string == "5006")
        #expect(tree["party7"] == nil)
    }

    @Test func disconnectNamesWhoReleased() throws {
        let disconnect = try Self.message("hold-retrieve", .disconnect, device: "5001")
        let tree = try Self.parse(CtiSvr.event(disconnect, referenceID: 1, userData: nil))
        #expect(tree["eventtype"]?.string == "disconnect")
        #expect(tree["releasing"]?.string == "T1001#1", "the customer's trunk left first")
        #expect(tree["ucid"]?.string == "00001000011795168800")
        #expect(tree["uui"]?.string == "ACCT=998877;LANG=FR")

        // A CallCleared names nobody: the call ended for the device the message is for.
        var cleared = disconnect
        cleared.party = nil
        #expect(try Self.parse(CtiSvr.event(cleared, referenceID: 1, userData: nil))["releasing"]?.string == "5001")
    }

    @Test func holdAndRetrieveNameTheStation() throws {
        let hold = try Self.parse(CtiSvr.event(try Self.message("hold-retrieve", .hold), referenceID: 1, userData: nil))
        let retrieve = try Self.parse(
            CtiSvr.event(try Self.message("hold-retrieve", .retrieve), referenceID: 1, userData: nil))
        #expect(hold["eventtype"]?.string == "hold")
        #expect(hold["holding"]?.string == "5001")
        #expect(retrieve["eventtype"]?.string == "retrieve")
        #expect(retrieve["retrieving"]?.string == "5001")
        #expect(hold["custdata"] == nil && retrieve["ucid"] == nil, "the reference lists no more for these")
    }

    // MARK: - custdata

    @Test func custdataIsTheDataAsAString() throws {
        let offer = try Self.message("c-consultative-transfer", .offer, device: "5002")
        #expect(CtiSvr.custdata(nil) == "")

        let text = try Self.userData(for: offer, data: .string("ACCT=42 VIP"))
        #expect(CtiSvr.custdata(text) == "ACCT=42 VIP", "a string goes out as itself, not quoted again")

        let object = try JSONTree(parsing: #"{"account":"998877","tier":"gold","balance":12.50}"#)
        let structured = try Self.userData(for: offer, data: object)
        #expect(CtiSvr.custdata(structured) == #"{"account":"998877","tier":"gold","balance":12.50}"#)

        let tree = try Self.parse(CtiSvr.event(offer, referenceID: 1, userData: structured))
        #expect(tree["custdata"]?.string == #"{"account":"998877","tier":"gold","balance":12.50}"#)
        #expect(try JSONTree(parsing: tree["custdata"]?.string ?? "") == object, "the integration can parse it back")

        var expired = structured
        expired.entries = expired.entries.map { entry in
            var entry = entry
            entry.status = .expired
            return entry
        }
        #expect(CtiSvr.custdata(expired) == "", "expired data is not shown")
    }

    /// A call that arrives from another site shows the transferring agent as its caller; the key it carries
    /// names the real customer, and origcalling/cli follow the key.
    @Test func theCarriedKeysCallerWinsOverTheSwitch() throws {
        let offer = try Self.message("a-inbound-answered", .offer)
        let data = try Self.userData(for: offer, data: .object([("note", .string("VIP"))]), foreignCaller: "4165551111")
        let tree = try Self.parse(CtiSvr.event(offer, referenceID: 1, userData: data))
        #expect(tree["origcalling"]?.string == "4165551111")
        #expect(tree["origcalled"]?.string == "8885550000")
        #expect(tree["calling"]?.string == offer.calling, "calling stays what the switch reported")
        #expect(
            tree["custdata"]?.string == #"{"site":"OTT","note":"VIP"}"#,
            "the key's data and the call's, merged in order")
    }

    // MARK: - Requests

    @Test func readsStartMonitor() throws {
        let request = try CtiSvrRequest(text: #"{"id":1,"request":"startmonitor","extension":"5001"}"#)
        #expect(request.id == "1")
        #expect(request.request == "startmonitor")
        #expect(request.extension == "5001")
        #expect(request.type == nil && request.data == nil && request.uui == nil)
    }

    @Test func readsUserDataSetWithStringOrObjectData() throws {
        let text = try CtiSvrRequest(
            text: #"{"id":"a-7","request":"userdata","type":"set","extension":"5001","data":"ACCT=42"}"#)
        #expect(text.id == #""a-7""#)
        #expect(text.type == "set")
        #expect(text.data == .string("ACCT=42"))

        let object = try CtiSvrRequest(
            text: #"{"request":"userdata","id":8,"type":"set","extension":"5001","data":{"account":"42","n":[1,2]}}"#)
        #expect(object.data?.text == #"{"account":"42","n":[1,2]}"#)
        #expect(object.data?["account"]?.string == "42")
    }

    @Test func readsGetWithTheKeyAndKeepsOtherFields() throws {
        let get = try CtiSvrRequest(
            text: #"{"id":9,"request":"userdata","type":"get","extension":"5001","uui":"CT0123456789ABCDEFGH"}"#)
        #expect(get.uui == "CT0123456789ABCDEFGH")
        let call = try CtiSvrRequest(text: #"{"id":10,"request":"makecall","extension":"5001","destination":"5002"}"#)
        #expect(call.object["destination"]?.string == "5002")
    }

    @Test func nullMembersCountAsAbsent() throws {
        let request = try CtiSvrRequest(text: #"{"id":null,"request":"svrinfo","extension":null,"data":null}"#)
        #expect(request.id == "null")
        #expect(request.extension == nil)
        #expect(request.data == nil)
        let noID = try CtiSvrRequest(text: #"{"request":"svrinfo"}"#)
        #expect(noID.id == "null", "a request without id still gets an answer it can see")
    }

    @Test(arguments: [
        (#"{"id":42,"request":"startmonitor"}"#, #""id":42,"#),
        (#"{"id":"req-42","request":"startmonitor"}"#, #""id":"req-42","#),
        (#"{"id":1.50,"request":"startmonitor"}"#, #""id":1.50,"#),
        (#"{"id":"say \"hi\"","request":"startmonitor"}"#, #""id":"say \"hi\"","#),
    ])
    func theIdIsEchoedAsGiven(_ text: String, _ echoed: String) throws {
        let request = try CtiSvrRequest(text: text)
        let success = CtiSvr.response(id: request.id, fields: [])
        let failure = CtiSvr.failure(id: request.id, error: "no such extension")
        #expect(success.contains(echoed), "\(success)")
        #expect(failure.contains(echoed), "\(failure)")
        let sent = try JSONTree(parsing: text)["id"]
        #expect(try Self.parse(success)["id"] == sent)
        #expect(try Self.parse(failure)["id"] == sent)
    }

    @Test func notJSONIsAnError() {
        #expect(throws: CallModelError.self) { try CtiSvrRequest(text: "startmonitor 5001") }
        do {
            _ = try CtiSvrRequest(text: #"{"id":1,"request":"startmonitor""#)
            Issue.record("a truncated request was read")
        } catch {
            #expect(error.ctiSvrProblem == .notJSON)
            #expect(error.description.contains("not JSON"))
        }
    }

    @Test func aValueThatIsNotAnObjectIsAnError() {
        do {
            _ = try CtiSvrRequest(text: #"["startmonitor"]"#)
            Issue.record("an array was read as a request")
        } catch {
            #expect(error.ctiSvrProblem == .notAnObject)
            #expect(error.description.contains("object"))
        }
    }

    @Test func aMissingRequestIsAnErrorThatKeepsTheID() {
        do {
            _ = try CtiSvrRequest(text: #"{"id":"x1","extension":"5001"}"#)
            Issue.record("a request without request was read")
        } catch {
            #expect(error.ctiSvrProblem == .missingRequest)
            #expect(error.id == #""x1""#, "the route can still answer with the id")
            #expect(error.description.contains("\"request\""))
        }
    }

    @Test(arguments: [
        (#"{"id":2,"request":"startmonitor","extension":5001}"#, "extension"),
        (#"{"id":2,"request":7}"#, "request"),
        (#"{"id":2,"request":"userdata","type":["set"]}"#, "type"),
        (#"{"id":2,"request":"userdata","type":"get","uui":12}"#, "uui"),
        (#"{"id":{"n":2},"request":"startmonitor"}"#, "id"),
    ])
    func aFieldOfTheWrongTypeIsNamed(_ text: String, _ field: String) {
        do {
            _ = try CtiSvrRequest(text: text)
            Issue.record("\(text) was read")
        } catch {
            #expect(error.ctiSvrProblem == .wrongType(field: field))
            #expect(error.description.hasPrefix(field), "\(error.description)")
            #expect(error.id == (field == "id" ? nil : "2"))
        }
    }

    // MARK: - Responses

    @Test func responsesHaveCtiSvrsShape() throws {
        let success = CtiSvr.response(id: "5", fields: [("uui", JSONWriter.quote("CT0123456789ABCDEFGH")), ("n", "3")])
        #expect(success == #"{"msgtype":"response","id":5,"result":"success","uui":"CT0123456789ABCDEFGH","n":3}"#)
        let failure = try Self.parse(CtiSvr.failure(id: #""q""#, error: "extension \"5009\" is not monitored"))
        #expect(failure["msgtype"]?.string == "response")
        #expect(failure["result"]?.string == "fail")
        #expect(failure["error"]?.string == "extension \"5009\" is not monitored")
    }

    @Test func alertResponseDescribesTheAlertingCall() throws {
        let offer = try Self.message("c-consultative-transfer", .offer, device: "5002")
        let data = try Self.userData(for: offer, data: .object([("account", .string("998877"))]))
        let tree = try Self.parse(CtiSvr.alertResponse(id: "11", message: offer, userData: data))
        #expect(tree["id"] == .number("11"))
        #expect(tree["result"]?.string == "success")
        #expect(tree["callid"] == .number("1002"))
        #expect(tree["calling"]?.string == "5001")
        #expect(tree["called"]?.string == "5002")
        #expect(tree["alerting"]?.string == "5002")
        #expect(tree["cli"]?.string == "6135555493")
        #expect(tree["dnis"]?.string == "8005551234")
        #expect(tree["uec"]?.string == "4321")
        #expect(tree["ucid"]?.string == "00001000021795168934")
        #expect(tree["split"]?.string == "3001")
        #expect(tree["trunkgroup"]?.string == "10")
        #expect(tree["trunkmember"]?.string == "5")
        #expect(tree["userdata"]?.string == #"{"account":"998877"}"#)
    }

    @Test func hangupResponseDescribesTheCallThatLeft() throws {
        let disconnect = try Self.message("hold-retrieve", .disconnect, device: "5001")
        let tree = try Self.parse(CtiSvr.hangupResponse(id: #""h""#, message: disconnect, userData: nil))
        #expect(tree["id"] == .string("h"))
        #expect(tree["callid"] == .number("1001"))
        #expect(tree["releasing"]?.string == "T1001#1", "the customer hung up")
        #expect(tree["ucid"]?.string == "00001000011795168800")
        #expect(tree["userdata"] == .string(""))
    }
}
