import AESLink
import CallModel
import DMCC
import Foundation
import Simulator
import TSAPI
import TestSupport
import Testing

/// Every event of the scenario library written as AES writes it (in each namespace style), read back by the link's
/// mapping, gives the journey the same events give when posted in TSAPI's names.
struct DMCCEventMappingTests {
    static let scenarios = Scenario.allCases

    @Test func theLibraryIsThere() { #expect(Self.scenarios.count == 14) }

    /// The envelopes a link stores for the scenario's events, each copy written in `style` (or each style in turn).
    static func linkEnvelopes(_ scenario: Scenario, style: DMCCEventWriter.Style?) throws -> [String] {
        var traffic = Traffic.fixture(scenario)
        let sites = traffic.sites
        var lines: [String] = []
        var seq: [Int: Int64] = [:]
        var turn = 0
        while let event = traffic.nextSwitchEvent() {
            let site = sites[event.site]
            let vdns = Set(site.vdns.keys)
            let stations = Set(site.monitors.keys).subtracting(vdns)
            let link = LinkConfiguration(
                name: site.source, switchID: site.name, url: try LinkURL("tcp://127.0.0.1:4721"), username: "u",
                password: "p", switchName: site.name.uppercased(), stations: Array(stations), vdns: Array(vdns))
            for recipient in event.recipients {
                let chosen = style ?? DMCCEventWriter.Style.allCases[turn % 3]
                turn += 1
                let xml = DMCCEventWriter(style: chosen, switchName: site.name.uppercased())
                    .xml(event, crossRefID: String(recipient.monitor), state: recipient.state)
                let mapped = try DMCCEvent(try XMLReader.parse(xml), vdns: vdns, stations: stations)
                #expect(mapped.unknownElements.allSatisfy { $0 == "futureCallInfo" }, "\(mapped.unknownElements)")
                seq[event.site, default: 0] += 1
                // The switch's time to the millisecond, as the simulator's envelopes give it, so durations compare
                // too (a live link stamps the time it receives).
                let time = Timestamp.parse(Timestamp.format(event.time)) ?? event.time
                lines.append(LinkEnvelope.event(mapped, link: link, seq: seq[event.site]!, time: time))
            }
        }
        return lines
    }

    static func documents(_ tracker: JourneyTracker) throws -> [String: String] {
        try tracker.journeys.mapValues { try JSONCoding.text(JourneyDocument($0)) }
    }

    @Test(arguments: scenarios)
    func aScenarioOverDMCCGivesTheJourneyItGivesOverHTTP(_ scenario: Scenario) throws {
        let http = try ScenarioFixtures.tracker(Array(Traffic.fixture(scenario)))
        for style in [DMCCEventWriter.Style.defaultNamespace, .prefixed, .versioned, nil] {
            let dmcc = try ScenarioFixtures.tracker(try Self.linkEnvelopes(scenario, style: style))
            let expected = try Self.documents(http)
            let got = try Self.documents(dmcc)
            #expect(got.keys.sorted() == expected.keys.sorted(), "\(scenario) \(style?.rawValue ?? "mixed")")
            for (id, document) in expected {
                #expect(got[id] == document, "\(scenario) \(style?.rawValue ?? "mixed") journey \(id)")
            }
            #expect(dmcc.unattributedEvents == http.unattributedEvents)
        }
    }

    @Test func fieldsAreMappedToTSAPINames() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <TransferedEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
              <monitorCrossRefID>201</monitorCrossRefID>
              <primaryOldCall><callID>1001</callID><deviceID>5001:CM1::0</deviceID></primaryOldCall>
              <secondaryOldCall><callID>1002</callID><deviceID>5001:CM1::0</deviceID></secondaryOldCall>
              <transferringDevice><deviceIdentifier>5001:CM1::0</deviceIdentifier></transferringDevice>
              <transferredToDevice><deviceIdentifier>5002:CM1::0</deviceIdentifier></transferredToDevice>
              <transferredConnections>
                <connectionListItem><newConnection><callID>1002</callID><deviceID>T1002#1:CM1::0</deviceID></newConnection>
                  <endpoint><deviceIdentifier>6135550100</deviceIdentifier></endpoint></connectionListItem>
                <connectionListItem><newConnection><callID>1002</callID><deviceID>5002:CM1::0</deviceID></newConnection>
                  <endpoint><notKnown/></endpoint></connectionListItem>
              </transferredConnections>
              <localConnectionInfo>connected</localConnectionInfo>
              <userData><string>00FA0800190010</string></userData>
              <cause>transfer</cause>
              <callLinkageDataList>
                <newCallLinkageData><globalCallData><globalCallLinkageID><globallyUniqueCallLinkageID>00001000011795168800</globallyUniqueCallLinkageID></globalCallLinkageID></globalCallData></newCallLinkageData>
                <oldCallLinkageData><globalCallData><globalCallLinkageID><globallyUniqueCallLinkageID>00001000021795168934</globallyUniqueCallLinkageID></globalCallLinkageID></globalCallData></oldCallLinkageData>
              </callLinkageDataList>
              <brandNewElement>x</brandNewElement>
              <extensions><privateData><private><ns1:TransferredEventPrivateData xmlns:ns1="http://www.avaya.com/csta">
                <ns1:distributingVDN><ns1:deviceIdentifier>7001:CM1::0</ns1:deviceIdentifier></ns1:distributingVDN>
                <ns1:originalCallInfo><ns1:reason>transferred</ns1:reason>
                  <ns1:networkCallingDevice><ns1:deviceIdentifier>6135550100</ns1:deviceIdentifier></ns1:networkCallingDevice>
                  <ns1:networkCalledDevice><ns1:deviceIdentifier>8005551234</ns1:deviceIdentifier></ns1:networkCalledDevice>
                  <ns1:userData><ns1:string>414243</ns1:string></ns1:userData>
                  <ns1:userEnteredCode><ns1:userEnteredCodeType>callPrompter</ns1:userEnteredCodeType><ns1:userEnteredCodeIndicator>collect</ns1:userEnteredCodeIndicator><ns1:data>4321</ns1:data></ns1:userEnteredCode>
                </ns1:originalCallInfo>
                <ns1:somethingPrivate>y</ns1:somethingPrivate>
              </ns1:TransferredEventPrivateData></private></privateData></extensions>
            </TransferedEvent>
            """
        let event = try DMCCEvent(try XMLReader.parse(xml), vdns: ["7001"], stations: ["5001", "5002"])
        #expect(event.type == "CSTA_TRANSFERRED")
        #expect(event.monitor == "201")
        #expect(event.callID == 1001)
        #expect(event.unknownElements == ["brandNewElement", "somethingPrivate"])
        let csta = try JSONTree(parsing: event.csta)
        #expect(csta["transferredDevice"] == "5002")
        #expect(csta["transferringDevice"] == "5001")
        #expect(csta["cause"] == "EC_TRANSFER")
        #expect(csta["localConnectionInfo"] == "CS_CONNECT")
        let list = try #require(csta["transferredConnections"]?["connection"])
        #expect(
            list.text
                == #"[{"party":{"callID":1002,"deviceID":"T1002#1","devIDType":"DYNAMIC_ID"},"staticDevice":"6135550100"},"#
                + #"{"party":{"callID":1002,"deviceID":"5002","devIDType":"STATIC_ID"},"staticDevice":{"deviceID":"","deviceIDStatus":"ID_NOT_KNOWN"}}]"#
        )
        let att = try JSONTree(parsing: try #require(event.att))
        #expect(att["ucid"] == "00001000011795168800", "the new call's UCID on a transfer")
        #expect(att["userInfo"]?.text == #"{"type":"UUI_USER_SPECIFIC","data":"00FA0800190010"}"#)
        #expect(att["distributingVDN"] == "7001")
        let original = try #require(att["originalCallInfo"])
        #expect(original["reason"] == "OR_TRANSFERRED")
        #expect(original["callingDevice"] == "6135550100")
        #expect(original["calledDevice"] == "8005551234")
        #expect(original["userInfo"]?.text == #"{"type":"UUI_IA5_ASCII","data":"ABC"}"#)
        #expect(
            original["userEnteredCode"]?.text == #"{"type":"UE_CALL_PROMPTER","indicator":"UE_COLLECT","data":"4321"}"#)
    }

    /// A Delivered written as other DMCC clients' parsers expect AES to write it (not by the simulator): the
    /// private data's children prefixed, the device inside it unprefixed, a caller with a long number.
    @Test func aDeliveredAsOtherClientsReadIt() throws {
        let xml = """
            <DeliveredEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
              <monitorCrossRefID>7</monitorCrossRefID>
              <connection><callID>179</callID><deviceID typeOfNumber="other" mediaClass="notKnown">5001:CM1::0</deviceID></connection>
              <callingDevice><deviceIdentifier>989150603267:CM1::0</deviceIdentifier></callingDevice>
              <localConnectionInfo>alerting</localConnectionInfo><userData><string>48656C6C6F</string></userData><cause>newCall</cause>
              <callLinkageData><globalCallData><globalCallLinkageID><globallyUniqueCallLinkageID>00001001791428242051</globallyUniqueCallLinkageID></globalCallLinkageID></globalCallData></callLinkageData>
              <extensions><privateData><private><ns1:DeliveredEventPrivateData xmlns:ns1="http://www.avaya.com/csta">
                <ns1:acdGroup>3001:CM1::0</ns1:acdGroup>
                <ns1:userEnteredCode><ns1:userEnteredCodeType>any</ns1:userEnteredCodeType><ns1:userEnteredCodeIndicator>collect</ns1:userEnteredCodeIndicator><ns1:data>12345</ns1:data></ns1:userEnteredCode>
                <ns1:distributingVDN><deviceIdentifier>7000:CM1::0</deviceIdentifier></ns1:distributingVDN>
              </ns1:DeliveredEventPrivateData></private></privateData></extensions>
            </DeliveredEvent>
            """
        let event = try DMCCEvent(try XMLReader.parse(xml), vdns: ["7000"], stations: ["5001"])
        #expect(event.type == "CSTA_DELIVERED")
        #expect(event.monitor == "7")
        #expect(event.unknownElements.isEmpty)
        let csta = try JSONTree(parsing: event.csta)
        #expect(csta["connection"]?.text == #"{"callID":179,"deviceID":"5001","devIDType":"STATIC_ID"}"#)
        #expect(csta["callingDevice"] == "989150603267")
        #expect(csta["localConnectionInfo"] == "CS_ALERTING")
        #expect(csta["cause"] == "EC_NEW_CALL")
        let att = try JSONTree(parsing: try #require(event.att))
        #expect(att["deliveredType"] == "DELIVERED_TO_STATION")
        #expect(att["ucid"] == "00001001791428242051")
        #expect(att["userInfo"]?.text == #"{"type":"UUI_IA5_ASCII","data":"Hello"}"#)
        #expect(att["split"] == "3001")
        #expect(att["userEnteredCode"]?.text == #"{"type":"UE_ANY","indicator":"UE_COLLECT","data":"12345"}"#)
        #expect(att["distributingVDN"] == "7000")
        // Decoded as the projections decode stored events: the UCID and the customer's number are there.
        let envelope = LinkEnvelope.event(
            event,
            link: LinkConfiguration(
                name: "aes1", switchID: "cm1", url: try LinkURL("tcp://h:1"), username: "u", password: "p",
                switchName: "CM1", stations: ["5001"], vdns: ["7000"]),
            seq: 1, time: Date(timeIntervalSince1970: 1_795_168_800))
        let decoded = try JSONDecoder().decode(TSAPIEvent.self, from: Data(envelope.utf8))
        #expect(decoded.att?.ucid == "00001001791428242051")
        #expect(decoded.att?.userEnteredCode?.data == "12345")
        guard case .delivered(let delivered) = decoded.csta else {
            Issue.record("a Delivered decodes as one: \(decoded.csta)")
            return
        }
        #expect(delivered.callingDevice?.deviceID == "989150603267")
        #expect(delivered.connection?.callID == 179)
    }

    @Test func deliveredTypeFollowsWhereTheCallAlerts() throws {
        func type(_ alerting: String, connection: String) throws -> String? {
            let xml =
                "<DeliveredEvent><monitorCrossRefID>1</monitorCrossRefID><connection><callID>9</callID>"
                + "<deviceID>\(connection):CM1::0</deviceID></connection><alertingDevice><deviceIdentifier>\(alerting)"
                + ":CM1::0</deviceIdentifier></alertingDevice></DeliveredEvent>"
            let event = try DMCCEvent(try XMLReader.parse(xml), vdns: ["7001"], stations: ["5001"])
            return try JSONTree(parsing: try #require(event.att))["deliveredType"]?.string
        }
        #expect(try type("7001", connection: "7001") == "DELIVERED_TO_ACD")
        #expect(try type("5001", connection: "5001") == "DELIVERED_TO_STATION")
        #expect(try type("6135550100", connection: "T9#2") == "DELIVERED_OTHER")
    }

    @Test func enteredDigitsAreKeptUnderAvayasName() throws {
        let xml = """
            <ns1:EnteredDigitsEvent xmlns:ns1="http://www.avaya.com/csta"><ns1:monitorCrossRefID>5</ns1:monitorCrossRefID>
            <ns1:connection><ns1:callID>1001</ns1:callID><ns1:deviceID>5001:CM1::0</ns1:deviceID></ns1:connection>
            <ns1:digits>1234#</ns1:digits><ns1:localConnectionInfo>connected</ns1:localConnectionInfo>
            <ns1:cause>normalClearing</ns1:cause></ns1:EnteredDigitsEvent>
            """
        let event = try DMCCEvent(try XMLReader.parse(xml), vdns: [], stations: ["5001"])
        #expect(event.type == "ATT_ENTERED_DIGITS")
        #expect(event.callID == 1001)
        let csta = try JSONTree(parsing: event.csta)
        #expect(csta["digits"] == "1234#")
        #expect(csta["cause"] == "EC_NORMAL_CLEARING")
        #expect(event.att == nil)
        #expect(event.unknownElements.isEmpty)
    }

    @Test func anEventWithoutItsMonitorIsRefused() throws {
        let error = #expect(throws: DMCCError.self) {
            try DMCCEvent(try XMLReader.parse("<HeldEvent><heldConnection/></HeldEvent>"), vdns: [], stations: [])
        }
        #expect(error?.message.contains("monitorCrossRefID") == true)
    }
}
