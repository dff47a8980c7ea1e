import Foundation
import TSAPI
import Testing

/// A batch is all or nothing: the first invalid event is reported by index and field (the ingest envelope, docs/api.md).
@Suite("IngestBatchParser: errors")
struct IngestBatchParserErrorTests {
    static let time = Envelope.time

    // MARK: Missing or wrong envelope fields

    @Test(arguments: [
        (#"{"seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "source"),
        (#"{"source":"","seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "source"),
        (#"{"source":7,"seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "source"),
        (#"{"source":null,"seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "source"),
        (#"{"source":"aes1","seq":1,"time":"\#(Envelope.time)"}"#, "type"),
        (#"{"source":"aes1","seq":1,"time":"\#(Envelope.time)","type":""}"#, "type"),
        (#"{"source":"aes1","seq":1,"time":"\#(Envelope.time)","type":57}"#, "type"),
        (#"{"source":"aes1","seq":1,"type":"CSTA_HELD"}"#, "time"),
        (#"{"source":"aes1","seq":1,"time":"yesterday","type":"CSTA_HELD"}"#, "time"),
        (#"{"source":"aes1","seq":1,"time":"2026-02-30T10:00:01.250Z","type":"CSTA_HELD"}"#, "time"),
        (#"{"source":"aes1","seq":1,"time":"2026-11-20T10:00:01.250","type":"CSTA_HELD"}"#, "time"),
        (#"{"source":"aes1","seq":1,"time":1795168801,"type":"CSTA_HELD"}"#, "time"),
        (#"{"source":"aes1","seq":1,"time":null,"type":"CSTA_HELD"}"#, "time"),
        (#"{"source":"aes1","time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "seq"),
        (#"{"source":"aes1","seq":"forty-two","time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "seq"),
        (#"{"source":"aes1","seq":1.5,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "seq"),
        (#"{"source":"aes1","seq":true,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "seq"),
        (#"{"source":"aes1","seq":99999999999999999999,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "seq"),
        (#"{"id":"","source":"aes1","seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "id"),
        (#"{"id":42,"source":"aes1","seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "id"),
        (#"{"source":"aes1","switch":1,"seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "switch"),
        (#"{"source":"aes1","seq":1,"monitor":"m1","time":"\#(Envelope.time)","type":"CSTA_HELD"}"#, "monitor"),
        (#"{}"#, "source"),
    ])
    func invalidEnvelopeNamesTheField(_ text: String, _ field: String) throws {
        let error = try #require(ingestError(text))
        #expect(error.index == 0)
        #expect(error.field == field)
        #expect(!error.message.isEmpty)
    }

    @Test func errorIndexIsThePositionInTheArray() throws {
        let body =
            "[" + Envelope.event(seq: 1) + "," + Envelope.event(seq: 2) + ","
            + #"{"source":"aes1","seq":3,"type":"CSTA_HELD"}"# + "]"
        let error = try #require(ingestError(body))
        #expect(error.index == 2)
        #expect(error.field == "time")
    }

    @Test func errorIndexIsThePositionInNDJSON() throws {
        let body = Envelope.event(seq: 1) + "\n\n" + #"{"seq":2,"time":"\#(Self.time)","type":"CSTA_HELD"}"# + "\n"
        let error = try #require(ingestError(body))
        #expect(error.index == 1)
        #expect(error.field == "source")
    }

    @Test func theFirstInvalidEventIsReported() throws {
        let body =
            "["
            + [
                Envelope.event(seq: 1),
                #"{"source":"aes1","seq":2,"time":"\#(Self.time)"}"#,  // no type
                #"{"seq":3,"time":"\#(Self.time)","type":"CSTA_HELD"}"#,  // no source
                "42",
            ].joined(separator: ",") + "]"
        let error = try #require(ingestError(body))
        #expect(error.index == 1)
        #expect(error.field == "type")
    }

    @Test func anInvalidEventBeforeASyntaxErrorIsReportedFirst() throws {
        let body =
            Envelope.event(seq: 1) + "\n" + #"{"source":"aes1","seq":2,"type":"CSTA_HELD"}"# + "\n"
            + #"{"source":"aes1","seq":3,"#
        let error = try #require(ingestError(body))
        #expect(error.index == 1)
        #expect(error.field == "time")
    }

    // MARK: Not an object

    @Test(arguments: ["42", #""text""#, "null", "true", "[1]", "[]"])
    func nonObjectElementInArray(_ element: String) throws {
        let body = "[" + Envelope.event(seq: 1) + "," + element + "]"
        let error = try #require(ingestError(body))
        #expect(error.index == 1)
        #expect(error.field == nil)
    }

    @Test(arguments: ["42", #""text""#, "null", "false"])
    func nonObjectAtTheTop(_ body: String) throws {
        let error = try #require(ingestError(body))
        #expect(error.index == 0)
        #expect(error.field == nil)
    }

    @Test func nonObjectLineInNDJSON() throws {
        let body = Envelope.event(seq: 1) + "\n" + Envelope.event(seq: 2) + "\n" + "hello\n"
        let error = try #require(ingestError(body))
        #expect(error.index == 2)
        #expect(error.field == nil)
    }

    // MARK: Syntax errors

    @Test(arguments: [
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD",}"#,  // trailing comma
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD""#,  // not closed
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":tru}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":nul}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":1.}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":.5}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":-}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":1e}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":01}"#,  // leading zero
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":[1,2}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":[1 2]}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":{"a" 1}}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":{a:1}}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD" "x":1}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":"\q"}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":"\u12G4"}"#,
        #"{"source":"aes1\q","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","x":"unterminated}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","csta":{"connection":{"callID":}}}"#,
        #"{"source":"aes1","seq":3,"time":"\#(Envelope.time)","type":"CSTA_HELD","att":{"ucid":"1",}}"#,
        // A backslash followed by a raw control character.
        "{\"source\":\"aes1\",\"seq\":3,\"time\":\"\(Envelope.time)\",\"type\":\"CSTA_HELD\",\"x\":\"\\\u{01}\"}",
        // A raw line feed inside a string.
        "{\"source\":\"aes\n1\",\"seq\":3,\"time\":\"\(Envelope.time)\",\"type\":\"CSTA_HELD\"}",
    ])
    func syntaxErrorInTheThirdEventNamesIndexTwo(_ third: String) throws {
        let arrayBody = "[" + Envelope.event(seq: 1) + "," + Envelope.event(seq: 2) + "," + third + "]"
        let arrayError = try #require(ingestError(arrayBody))
        #expect(arrayError.index == 2)
        #expect(arrayError.field == nil)

        let ndjsonBody = Envelope.event(seq: 1) + "\n" + Envelope.event(seq: 2) + "\n" + third + "\n"
        let ndjsonError = try #require(ingestError(ndjsonBody))
        #expect(ndjsonError.index == 2)
        #expect(ndjsonError.field == nil)
    }

    @Test func deepNestingIsRefused() throws {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        let error = try #require(ingestError(Envelope.event(extra: #""x":\#(deep)"#)))
        #expect(error.index == 0)
    }

    @Test func moderateNestingIsAccepted() throws {
        let nested = String(repeating: "[", count: 20) + String(repeating: "]", count: 20)
        let event = try parseSingle(Envelope.event(extra: #""x":\#(nested)"#))
        #expect(event.rawJSON.contains(nested))
    }

    // MARK: Array framing

    @Test func unclosedArrayIsRefused() throws {
        let error = try #require(ingestError("[" + Envelope.event(seq: 1)))
        #expect(error.index != nil)
    }

    @Test func missingCommaBetweenArrayElementsIsRefused() throws {
        #expect(ingestError("[" + Envelope.event(seq: 1) + " " + Envelope.event(seq: 2) + "]") != nil)
    }

    @Test func trailingCommaInArrayIsRefused() throws {
        let error = try #require(ingestError("[" + Envelope.event(seq: 1) + ",]"))
        #expect(error.index == 1)
    }

    @Test func contentAfterTheArrayIsRefusedWithoutIndex() throws {
        let error = try #require(ingestError("[" + Envelope.event(seq: 1) + "] " + Envelope.event(seq: 2)))
        #expect(error.index == nil)
    }
}

/// CallTrail's link records have ids of their own; a client may not take one.
struct ReservedIDTests {
    @Test func linkRecordIdsAreReserved() {
        #expect(throws: TSAPIError.self) {
            try parseBatch(Envelope.event(extra: #""id":"calltrail-link-cm1-7-105""#))
        }
        #expect(throws: TSAPIError.self) {
            try parseBatch(#"{"source":"calltrail-link-x","seq":1,"time":"2026-11-20T10:00:00Z","type":"CSTA_HELD"}"#)
        }
    }
}
