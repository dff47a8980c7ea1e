import Foundation
import TSAPI
import Testing

/// Text PostgreSQL cannot store: refused with the field named where the envelope's own columns would hold it, kept
/// (and made storable) inside `csta` and `att`, which are never a reason to refuse an event.
@Suite("IngestBatchParser: hostile text")
struct IngestHostileTextTests {
    /// Parses raw bytes as a request body.
    static func error(_ bytes: [UInt8]) -> TSAPIError? {
        do {
            _ = try IngestBatchParser.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    static func event(
        id: String = "e1", source: String = "aes1", switchName: String = "cm1", type: String = "CSTA_HELD"
    ) -> [UInt8] {
        Array(
            #"{"id":"\#(id)","source":"\#(source)","switch":"\#(switchName)","time":"\#(Envelope.time)","type":"\#(type)"}"#
                .utf8)
    }

    @Test(arguments: ["id", "source", "switch", "type"])
    func aNULEscapeInAnEnvelopeStringNamesTheField(_ field: String) throws {
        let bytes =
            switch field {
            case "id": Self.event(id: #"a\u0000b"#)
            case "source": Self.event(source: #"a\u0000b"#)
            case "switch": Self.event(switchName: #"a\u0000b"#)
            default: Self.event(type: #"CSTA\u0000HELD"#)
            }
        let error = try #require(Self.error(bytes))
        #expect(error.field == field)
        #expect(error.index == 0)
        #expect(error.message.contains("NUL"))
    }

    @Test(arguments: ["id", "source", "switch", "type"])
    func invalidUTF8InAnEnvelopeStringNamesTheField(_ field: String) throws {
        var bytes = Self.event()
        let value: [UInt8] =
            switch field {
            case "id": Array("\"e1\"".utf8)
            case "source": Array("\"aes1\"".utf8)
            case "switch": Array("\"cm1\"".utf8)
            default: Array("\"CSTA_HELD\"".utf8)
            }
        let at = try #require(bytes.firstRange(of: value))
        bytes.insert(0xFF, at: at.lowerBound + 2)
        let error = try #require(Self.error(bytes))
        #expect(error.field == field)
        #expect(error.message.contains("not valid UTF-8"))
    }

    @Test func envelopeStringsAreBounded() throws {
        #expect(Self.error(Self.event(source: String(repeating: "s", count: IngestBatchParser.maxFieldBytes))) == nil)
        let error = try #require(
            Self.error(Self.event(source: String(repeating: "s", count: IngestBatchParser.maxFieldBytes + 1))))
        #expect(error.field == "source")
        #expect(error.message.contains("longer than 256 bytes"))
        #expect(Self.error(Self.event(id: String(repeating: "i", count: 100_000)))?.field == "id")
    }

    @Test func seqIsNotNegative() throws {
        let error = try #require(
            ingestError(#"{"source":"aes1","seq":-1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#))
        #expect(error.field == "seq")
        #expect(try parseSingle(#"{"source":"aes1","seq":0,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#).seq == 0)
    }

    @Test func invalidUTF8InsideCSTAIsKeptAsLatin1Escapes() throws {
        // "José" from a Latin-1 source: 0xE9 alone is not UTF-8.
        let bytes =
            Array(
                #"{"id":"e1","source":"aes1","time":"\#(Envelope.time)","type":"CSTA_HELD","csta":{"callingDevice":"Jos"#
                    .utf8)
            + [0xE9] + Array(#""}}"#.utf8)
        let event = try #require(try IngestBatchParser.parse(bytes).first)
        #expect(event.rawJSON.contains(#""callingDevice":"Jos\u00e9""#))
        let tree = try JSONTree(parsing: event.rawJSON)
        #expect(tree["csta"]?["callingDevice"]?.string == "José")
    }

    @Test func aNULEscapeInsideATTIsKeptAsWritten() throws {
        let text =
            #"{"id":"e1","source":"aes1","time":"\#(Envelope.time)","type":"CSTA_HELD","att":{"userInfo":{"data":"A\u0000B"}}}"#
        #expect(try parseSingle(text).rawJSON == text)
    }

    @Test func theReadModelsGetAReplacementCharacterForNUL() throws {
        let text =
            #"{"id":"e1","source":"aes1","time":"\#(Envelope.time)","type":"CSTA_DELIVERED","csta":{"connection":{"callID":7,"deviceID":"5001"},"callingDevice":"61\u0000"}}"#
        let event = try Array(text.utf8).withUnsafeBytes { try TSAPIEvent(json: $0) }
        guard case .delivered(let delivered) = event.csta else {
            Issue.record("not decoded as Delivered: \(event.csta)")
            return
        }
        #expect(delivered.callingDevice?.deviceID == "61\u{FFFD}")
    }

    @Test func latin1EscapingLeavesValidUTF8Alone() {
        let valid = Array("{\"a\":\"é😀x\"}".utf8)
        let text = valid.withUnsafeBytes { JSONWriter.escapingInvalidUTF8($0) }
        #expect(text == "{\"a\":\"é😀x\"}")
        // A truncated four-byte sequence and a lone continuation byte: each byte escaped on its own.
        let broken: [UInt8] = [0x22, 0xF0, 0x9F, 0x22, 0x80, 0x22]
        #expect(broken.withUnsafeBytes { JSONWriter.escapingInvalidUTF8($0) } == #""\u00f0\u009f"\u0080""#)
    }
}

/// A client's document for storing (user data): where text cannot be stored, the error names the place.
struct JSONTreeValidatingTests {
    static func error(_ text: [UInt8]) -> TSAPIError? {
        text.withUnsafeBytes { bytes in
            do throws(TSAPIError) {
                _ = try JSONTree(validating: bytes)
                return nil
            } catch {
                return error
            }
        }
    }

    @Test func aNULIsNamedByItsPath() throws {
        let error = try #require(Self.error(Array(#"{"data":{"a":{"b":["x","y\u0000"]}}}"#.utf8)))
        #expect(error.isUnstorableText)
        #expect(error.field == "data.a.b[1]")
    }

    @Test func invalidUTF8IsNamedByItsPath() throws {
        let error = try #require(Self.error(Array(#"{"data":{"name":""#.utf8) + [0xC3] + Array(#""}}"#.utf8)))
        #expect(error.isUnstorableText)
        #expect(error.field == "data.name")
        #expect(error.message == "is not valid UTF-8")
    }

    @Test func malformedJSONIsNotUnstorableText() throws {
        let error = try #require(Self.error(Array(#"{"data":{"a":tru}}"#.utf8)))
        #expect(!error.isUnstorableText)
        #expect(error.field == nil)
    }

    @Test func goodTextPasses() {
        #expect(Self.error(Array(#"{"data":{"a":"é😀\n","b":[1,null,true]}}"#.utf8)) == nil)
    }
}
