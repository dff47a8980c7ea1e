import Foundation
import TSAPI
import Testing

/// Body framing and the envelope fields (the ingest envelope, docs/api.md).
@Suite("IngestBatchParser: framing and envelope")
struct IngestBatchParserTests {
    // MARK: Framing

    @Test func singleObject() throws {
        let events = try parseBatch(Envelope.event(seq: 42))
        #expect(events.count == 1)
        #expect(events.first?.seq == 42)
    }

    @Test func jsonArrayKeepsOrder() throws {
        let body = "[" + [1, 2, 3].map { Envelope.event(seq: $0) }.joined(separator: ",") + "]"
        let events = try parseBatch(body)
        #expect(events.map(\.seq) == [1, 2, 3])
    }

    @Test func jsonArrayWithWhitespaceEverywhere() throws {
        let body = " \n[\n  \(Envelope.event(seq: 1)) ,\r\n\t\(Envelope.event(seq: 2))\n]\n "
        let events = try parseBatch(body)
        #expect(events.map(\.seq) == [1, 2])
    }

    @Test func ndjsonWithBlankLines() throws {
        let body =
            "\n" + Envelope.event(seq: 1) + "\n\n" + Envelope.event(seq: 2) + "\r\n\r\n"
            + Envelope.event(seq: 3) + "\n\n"
        let events = try parseBatch(body)
        #expect(events.map(\.seq) == [1, 2, 3])
    }

    @Test func ndjsonObjectsOnOneLine() throws {
        let events = try parseBatch(Envelope.event(seq: 1) + " " + Envelope.event(seq: 2))
        #expect(events.map(\.seq) == [1, 2])
    }

    @Test(arguments: ["[]", "[ ]", " [\n] \n"])
    func emptyArrayGivesNoEvents(_ body: String) throws {
        #expect(try parseBatch(body).isEmpty)
    }

    @Test(arguments: ["", " ", "\n\r\n\t "])
    func emptyBodyIsRefusedWithoutIndex(_ body: String) throws {
        let error = try #require(ingestError(body))
        #expect(error.index == nil)
        #expect(error.field == nil)
    }

    @Test func parsesFromAnUnsafeRawBuffer() throws {
        let bytes = Array(Envelope.event(seq: 9).utf8)
        let events = try bytes.withUnsafeBytes { buffer in try IngestBatchParser.parse(buffer) }
        #expect(events.map(\.seq) == [9])
    }

    // MARK: rawJSON

    @Test func rawJSONIsTheObjectTextByteForByte() throws {
        let first = #"{ "source" : "aes1",  "seq":1 ,"time":"2026-11-20T10:00:01.250Z","type":"CSTA_HELD" }"#
        let second = """
            {
              "source": "aes1", "seq": 2,
              "time": "2026-11-20T10:00:01.250Z", "type": "CSTA_HELD",
              "csta": {"heldConnection": {"callID": 1001, "deviceID": "5001"},   "cause": "EC_NONE"}
            }
            """
        let events = try parseBatch("[\n  " + first + " ,\n\t" + second + "  \n]")
        try #require(events.count == 2)
        #expect(events[0].rawJSON == first)
        #expect(events[1].rawJSON == second)
    }

    @Test func rawJSONOfNDJSONExcludesTheLineBreaks() throws {
        let first = Envelope.event(seq: 1)
        let second = Envelope.event(seq: 2, csta: #"{"connection": \#(Envelope.connection(7))}"#)
        let events = try parseBatch("\r\n" + first + "\r\n\r\n  " + second + "\n")
        #expect(events.map(\.rawJSON) == [first, second])
    }

    @Test func rawJSONKeepsEscapesAndUnknownMembersAsSent() throws {
        let text = #"{"source":"a\u0065s1","seq":1,"time":"\#(Envelope.time)","type":"X","note":"\t\"é\"","n":1.5e3}"#
        let event = try parseSingle(text)
        #expect(event.rawJSON == text)
        #expect(event.source == "aes1")
    }

    @Test func rawJSONKeepsNonASCIIBytes() throws {
        let text = Envelope.event(extra: #""note":"Zoë 😀 漢字""#)
        let event = try parseSingle(text)
        #expect(Array(event.rawJSON.utf8) == Array(text.utf8))
    }

    // MARK: Envelope fields

    @Test func readsEveryEnvelopeField() throws {
        let text = """
            {"id":"aes1-000000042","source":"aes1","switch":"cm1","seq":42,"time":"2026-11-20T10:00:01.250Z",\
            "monitor":201,"type":"CSTA_DELIVERED"}
            """
        let event = try parseSingle(text)
        #expect(event.id == "aes1-000000042")
        #expect(event.source == "aes1")
        #expect(event.switchName == "cm1")
        #expect(event.seq == 42)
        #expect(Int64((event.time.timeIntervalSince1970 * 1_000_000).rounded()) == Envelope.timeMicros)
        #expect(event.monitor == 201)
        #expect(event.type == "CSTA_DELIVERED")
        #expect(event.eventType == .delivered)
    }

    @Test func idDefaultsToSourceDashSeq() throws {
        let event = try parseSingle(Envelope.event(source: "aes7", seq: 42))
        #expect(event.id == "aes7-42")
    }

    @Test func givenIDWinsOverTheDefault() throws {
        let event = try parseSingle(Envelope.event(seq: 42, extra: #""id":"custom-key""#))
        #expect(event.id == "custom-key")
        #expect(event.seq == 42)
    }

    @Test func idAloneIsEnough() throws {
        let text = #"{"id":"k1","source":"aes1","time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        let event = try parseSingle(text)
        #expect(event.id == "k1")
        #expect(event.seq == nil)
    }

    @Test func switchDefaultsToSource() throws {
        let event = try parseSingle(Envelope.event(source: "aes2"))
        #expect(event.switchName == "aes2")
    }

    @Test func seqAsNumericString() throws {
        let text = #"{"source":"aes1","seq":"42","time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        let event = try parseSingle(text)
        #expect(event.seq == 42)
        #expect(event.id == "aes1-42")
    }

    @Test func seqAsLargeNumber() throws {
        let text = #"{"source":"aes1","seq":9007199254740993,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        let event = try parseSingle(text)
        #expect(event.seq == 9_007_199_254_740_993)
    }

    @Test func monitorIsOptional() throws {
        #expect(try parseSingle(Envelope.event()).monitor == nil)
        #expect(try parseSingle(Envelope.event(extra: #""monitor":null"#)).monitor == nil)
        #expect(try parseSingle(Envelope.event(extra: #""monitor":201"#)).monitor == 201)
        #expect(try parseSingle(Envelope.event(extra: #""monitor":"202""#)).monitor == 202)
    }

    @Test func membersInAnyOrder() throws {
        let text = #"{"type":"CSTA_HELD","time":"\#(Envelope.time)","x":[1,{"y":null}],"seq":5,"source":"s"}"#
        let event = try parseSingle(text)
        #expect(event.source == "s")
        #expect(event.seq == 5)
        #expect(event.eventType == .held)
    }

    @Test func timeWithOffsetIsNormalised() throws {
        let text = #"{"source":"aes1","seq":1,"time":"2026-11-20T12:00:01.250+02:00","type":"CSTA_HELD"}"#
        let event = try parseSingle(text)
        #expect(Int64((event.time.timeIntervalSince1970 * 1_000_000).rounded()) == Envelope.timeMicros)
    }

    @Test func noCSTAOrATTMeansNothingToRoute() throws {
        let event = try parseSingle(Envelope.event())
        #expect(event.ucid == nil)
        #expect(event.callID == nil)
        #expect(event.oldCallIDs.isEmpty)
        #expect(event.resultingCallID == nil)
        #expect(event.uninterpretedFields.isEmpty)
    }

    // MARK: Event names

    @Test(arguments: EventType.allCases.filter { !$0.isCallTrailOwn })
    func everyContractNameIsKnown(_ type: EventType) throws {
        let event = try parseSingle(Envelope.event(type.rawValue))
        #expect(event.type == type.rawValue)
        #expect(event.eventType == type)
    }

    /// CallTrail's own event types, posted by a client, are stored as unknown: a client cannot forge a link or
    /// a user-data change.
    @Test(arguments: EventType.allCases.filter(\.isCallTrailOwn))
    func callTrailsOwnTypesFromAClientAreUnknown(_ type: EventType) throws {
        let event = try parseSingle(Envelope.event(type.rawValue))
        #expect(event.type == type.rawValue)
        #expect(event.eventType == nil)
    }

    @Test(arguments: ["CSTA_FOO", "csta_delivered", "CSTA_DELIVERED ", "ATT_DELIVERED"])
    func unknownTypeIsStillParsed(_ name: String) throws {
        let event = try parseSingle(Envelope.event(name, csta: #"{"connection":\#(Envelope.connection(1001))}"#))
        #expect(event.type == name)
        #expect(event.eventType == nil)
        #expect(event.callID == nil)
    }

    /// Only CallTrail itself writes CALLTRAIL_UCID_LINKED (docs/architecture.md); a client sending it is not trusted.
    @Test func clientSentUCIDLinkedIsUnknown() throws {
        let event = try parseSingle(Envelope.event("CALLTRAIL_UCID_LINKED", att: #"{"ucid":"00025000160955721139"}"#))
        #expect(event.type == "CALLTRAIL_UCID_LINKED")
        #expect(event.eventType == nil)
    }

    // MARK: Strings with escapes

    @Test func escapesInEnvelopeStringsAreDecoded() throws {
        let text = #"{"source":"a\"b\\c\u00e9\ud83d\ude00\/d","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        let event = try parseSingle(text)
        #expect(event.source == "a\"b\\cé😀/d")
        #expect(event.switchName == "a\"b\\cé😀/d")
        #expect(event.id == "a\"b\\cé😀/d-3")
        #expect(event.rawJSON == text)
    }

    @Test func controlEscapesAreDecoded() throws {
        let text = #"{"id":"\b\f\n\r\t\u0001\u001F","source":"s","time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        let event = try parseSingle(text)
        #expect(event.id == "\u{08}\u{0C}\n\r\t\u{01}\u{1F}")
    }

    @Test func escapesMixWithRawUTF8() throws {
        let text = #"{"source":"Zoë\u0020é\n😀x","seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        let event = try parseSingle(text)
        #expect(event.source == "Zoë é\n😀x")
    }

    @Test func uppercaseHexEscape() throws {
        let text = #"{"source":"\u00C9\uD83D\uDE00","seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        #expect(try parseSingle(text).source == "É😀")
    }

    @Test func loneSurrogateBecomesReplacementCharacter() throws {
        let text = #"{"source":"a\ud83db","seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        #expect(try parseSingle(text).source == "a\u{FFFD}b")
    }

    @Test func escapedMemberNamesMatch() throws {
        let text = #"{"sour\u0063e":"aes1","seq":1,"t\u0069me":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        let event = try parseSingle(text)
        #expect(event.source == "aes1")
    }

    @Test func escapedQuoteInsideAnUnknownMemberDoesNotEndTheString() throws {
        let text = Envelope.event(seq: 4, extra: #""note":"say \"}\" and \\","more":"\\\"""#)
        let event = try parseSingle(text)
        #expect(event.seq == 4)
        #expect(event.rawJSON == text)
    }

    // MARK: TSAPIError

    @Test func errorDescriptionNamesEventAndField() {
        #expect(TSAPIError.batch(message: "bad", index: 2, field: "time").description == "bad (event 2, field time)")
        #expect(TSAPIError.batch(message: "bad", index: 0, field: nil).description == "bad (event 0)")
        #expect(TSAPIError.batch(message: "bad", index: nil, field: nil).description == "bad")
    }
}
