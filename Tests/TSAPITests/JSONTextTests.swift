import Foundation
import TSAPI
import Testing

@Suite("JSONText")
struct JSONTextTests {
    @Test func quotesPlainText() {
        #expect(JSONText.quote("aes1") == #""aes1""#)
        #expect(JSONText.quote("") == #""""#)
    }

    @Test func escapesQuotesAndBackslashes() {
        #expect(JSONText.quote(#"say "hi""#) == #""say \"hi\"""#)
        #expect(JSONText.quote(#"C:\calls\"#) == #""C:\\calls\\""#)
        #expect(JSONText.quote(#"\""#) == #""\\\"""#)
    }

    @Test func escapesLineBreaksAndTabs() {
        #expect(JSONText.quote("a\nb") == #""a\nb""#)
        #expect(JSONText.quote("a\r\nb") == #""a\r\nb""#)
        #expect(JSONText.quote("a\tb") == #""a\tb""#)
    }

    @Test func escapesOtherControlCharactersAsUnicode() {
        #expect(JSONText.quote("\u{00}") == #""\u0000""#)
        #expect(JSONText.quote("\u{01}") == #""\u0001""#)
        #expect(JSONText.quote("\u{08}\u{0C}") == #""\u0008\u000c""#)
        #expect(JSONText.quote("\u{1B}[0m") == #""\u001b[0m""#)
        #expect(JSONText.quote("\u{1F}") == #""\u001f""#)
    }

    @Test func leavesEverythingElseAlone() {
        #expect(JSONText.quote("/ é 😀 \u{7F} \u{2028}") == "\"/ é 😀 \u{7F} \u{2028}\"")
    }

    /// Whatever the input, the output is a JSON string literal that decodes back to it.
    @Test func outputDecodesBackToTheInput() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init)))
        for value in [controls, "\"\\/\u{7F}", "tab\there", "Zoë 😀 漢字", #"{"json":"inside"}"#] {
            let quoted = JSONText.quote(value)
            let decoded = try JSONDecoder().decode([String].self, from: Data("[\(quoted)]".utf8))
            #expect(decoded == [value], "\(quoted)")
        }
    }

    @Test func quotedTextIsReadBackByTheIngestParser() throws {
        let source = "a\"b\\c\n\u{01}é😀"
        let text = #"{"source":\#(JSONText.quote(source)),"seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        #expect(try parseSingle(text).source == source)
    }

    @Test func optionalString() {
        #expect(JSONText.quote(nil) == "null")
        #expect(JSONText.quote(Optional("x")) == #""x""#)
        #expect(JSONText.quote(Optional("a\"b")) == #""a\"b""#)
    }

    @Test func number() {
        #expect(JSONText.number(nil as Int?) == "null")
        #expect(JSONText.number(nil as Int64?) == "null")
        #expect(JSONText.number(Int64(42)) == "42")
        #expect(JSONText.number(-7) == "-7")
        #expect(JSONText.number(Optional(UInt8(255))) == "255")
        #expect(JSONText.number(Int64.min) == "-9223372036854775808")
    }
}
