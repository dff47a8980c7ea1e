import DMCC
import Testing

/// The DMCC frame header and the XML reader, including what they refuse.
struct DMCCFrameTests {
    @Test func aFrameIsItsHeaderAndItsBody() throws {
        let frame = DMCCFrame(invokeID: 42, xml: "<A/>")
        let bytes = try frame.encoded()
        #expect(bytes.prefix(8) == [0, 0, 0, 12, 0x30, 0x30, 0x34, 0x32], "length 8 + 4, invoke ID \"0042\"")
        let header = try DMCCFrame.header(bytes)
        #expect(header == DMCCFrame.Header(length: 12, invokeID: 42))
        #expect(try DMCCFrame.header(try DMCCFrame(invokeID: 9_999, xml: "").encoded()).invokeID == 9_999)
    }

    @Test func aHeaderThatCannotBeTrustedIsAnError() throws {
        let short = #expect(throws: DMCCError.self) { try DMCCFrame.header([0, 0, 0, 7, 0x30, 0x30, 0x30, 0x31]) }
        #expect(short?.code == .malformedFrame)
        #expect(short?.message.contains("shorter than the header") == true)
        let letters = #expect(throws: DMCCError.self) { try DMCCFrame.header([0, 0, 0, 20, 0x30, 0x41, 0x30, 0x31]) }
        #expect(letters?.message.contains("not four ASCII digits") == true)
        #expect(throws: DMCCError.self) {
            try DMCCFrame(invokeID: 1, body: Array(repeating: 0x41, count: 65_528)).encoded()
        }
        #expect(throws: DMCCError.self) { try DMCCFrame(invokeID: 10_000, xml: "<A/>").encoded() }
    }
}

struct XMLReaderTests {
    @Test func readsByLocalNameWhateverThePrefix() throws {
        let root = try XMLReader.parse(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment -->
            <csta:DeliveredEvent xmlns:csta="urn:x" xmlns:ns1="urn:y">
              <csta:monitorCrossRefID> 7 </csta:monitorCrossRefID>
              <csta:connection><csta:callID>1001</csta:callID><csta:deviceID typeOfNumber='other' mediaClass="notKnown">5001:CM1::0</csta:deviceID></csta:connection>
              <csta:userData><csta:string>41</csta:string></csta:userData><empty/>
              <ns1:text>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#233;&#x41;<![CDATA[<raw>]]></ns1:text>
            </csta:DeliveredEvent>
            """)
        #expect(root.name == "DeliveredEvent")
        #expect(root.text(of: "monitorCrossRefID") == "7")
        #expect(root.find("connection", "callID")?.text == "1001")
        #expect(root.find("connection", "deviceID")?.attribute("typeOfNumber") == "other")
        #expect(root.find("connection", "deviceID")?.attribute("mediaClass") == "notKnown")
        #expect(root["empty"] == XMLElement("empty"))
        #expect(root.text(of: "text") == "a <b> & \"c\" 'd' éA<raw>")
        #expect(root.descendant("string")?.text == "41")
        // An entity's ';' followed by a combining mark still ends it.
        #expect(try XMLReader.parse("<a>&amp;\u{301}x</a>").text == "&\u{301}x")
    }

    @Test(arguments: [
        ("<A><B></A>", "</A> closes <B>"),
        ("<A>", "not closed"),
        ("<A x=1/>", "quoted value"),
        ("<A>&bogus;</A>", "unknown entity"),
        ("<A/><B/>", "text after the root element"),
        ("<!DOCTYPE A [<!ENTITY x \"y\">]><A/>", "DOCTYPE"),
        ("", "no root element"),
        ("<A>&#0;</A>", "unknown entity"),
        ("<A>&#+65;</A>", "unknown entity"),
        ("<A><:B/></A>", "starts or ends with ':'"),
        ("<A><b:/></A>", "starts or ends with ':'"),
    ])
    func whatIsNotOneDocumentIsAnErrorThatSaysWhere(_ text: String, _ reason: String) {
        let error = #expect(throws: DMCCError.self) { try XMLReader.parse(text) }
        #expect(error?.code == .malformedXML)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("at byte") == true || error?.message.contains("near byte") == true)
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "<a>", count: 100) + String(repeating: "</a>", count: 100)
        let error = #expect(throws: DMCCError.self) { try XMLReader.parse(deep) }
        #expect(error?.message.contains("nested deeper") == true)
    }
}

/// AES's answers, read into what the link acts on.
struct DMCCMessageTests {
    @Test func answersAndRefusals() throws {
        func message(_ xml: String) throws -> DMCCMessage { DMCCMessage(try XMLReader.parse(xml)) }
        #expect(
            try message(
                """
                <StartApplicationSessionPosResponse xmlns="http://www.ecma-international.org/standards/ecma-354/appl_session">
                <sessionID>469421A9364D46D6444524AE41BEAD72-0</sessionID>
                <actualProtocolVersion>http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv4</actualProtocolVersion>
                <actualSessionDuration>180</actualSessionDuration></StartApplicationSessionPosResponse>
                """)
                == .sessionStarted(
                    sessionID: "469421A9364D46D6444524AE41BEAD72-0",
                    protocolVersion: "http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv4",
                    duration: 180))
        #expect(
            try message(
                #"<ns2:GetDeviceIdResponse xmlns:ns2="x"><ns2:device typeOfNumber="other">4750::111.2.33.444:0</ns2:device></ns2:GetDeviceIdResponse>"#
            )
                == .deviceID("4750::111.2.33.444:0"))
        #expect(
            try message("<MonitorStartResponse><monitorCrossRefID>12</monitorCrossRefID></MonitorStartResponse>")
                == .monitorStarted(crossRefID: "12"))
        guard
            case .refused(let login) = try message(
                "<StartApplicationSessionNegResponse><errorCode><definedError>invalidApplicationInfo</definedError></errorCode></StartApplicationSessionNegResponse>"
            )
        else {
            Issue.record("a negative response is a refusal")
            return
        }
        #expect(login.aesError == "invalidApplicationInfo")
        guard
            case .refused(let device) = try message(
                "<CSTAErrorCode><operation>invalidDeviceID</operation></CSTAErrorCode>")
        else {
            Issue.record("CSTAErrorCode is a refusal")
            return
        }
        #expect(device.aesError == "invalidDeviceID")
        #expect(device.message.contains("operation: invalidDeviceID"))
        #expect(
            try message(
                "<SystemStatus><sysStatRegisterID>1</sysStatRegisterID><systemStatus>normal</systemStatus><extensions><privateData><private><ns1:SystemStatusPrivateData xmlns:ns1='x'><ns1:switchTlinkStatus><ns1:switchName>CM1</ns1:switchName><ns1:tlinkStatus>tlinkDown</ns1:tlinkStatus></ns1:switchTlinkStatus></ns1:SystemStatusPrivateData></private></privateData></extensions></SystemStatus>"
            )
                == .systemStatus(switchLinkUp: false))
        // Without the switch link's status, the system's: disabled is down, enabled or normal up, others unknown.
        #expect(
            try message("<SystemStatus><systemStatus>disabled</systemStatus></SystemStatus>")
                == .systemStatus(switchLinkUp: false))
        #expect(
            try message("<SystemStatus><systemStatus>enabled</systemStatus></SystemStatus>")
                == .systemStatus(switchLinkUp: true))
        #expect(
            try message("<SystemStatus><systemStatus>overloadImminent</systemStatus></SystemStatus>")
                == .systemStatus(switchLinkUp: nil))
        #expect(try message("<SomethingNew/>") == .other("SomethingNew"))
    }
}
