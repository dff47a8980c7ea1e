import Foundation
import TSAPI
import Testing

@Suite("JSONWriter")
struct JSONWriterTests {
    @Test func quotesPlainText() {
        #expect(JSONWriter.quote("aes1") == #""aes1""#)
        #expect(JSONWriter.quote("") == #""""#)
    }

    @Test func escapesQuotesAndBackslashes() {
        #expect(JSONWriter.quote(#"say "hi""#) == #""say \"hi\"""#)
        #expect(JSONWriter.quote(#"C:\calls\"#) == #""C:\\calls\\""#)
        #expect(JSONWriter.quote(#"\""#) == #""\\\"""#)
    }

    @Test func escapesLineBreaksAndTabs() {
        #expect(JSONWriter.quote("a\nb") == #""a\nb""#)
        #expect(JSONWriter.quote("a\r\nb") == #""a\r\nb""#)
        #expect(JSONWriter.quote("a\tb") == #""a\tb""#)
    }

    @Test func escapesOtherControlCharactersAsUnicode() {
        #expect(JSONWriter.quote("\u{00}") == #""\u0000""#)
        #expect(JSONWriter.quote("\u{01}") == #""\u0001""#)
        #expect(JSONWriter.quote("\u{08}\u{0C}") == #""\u0008\u000c""#)
        #expect(JSONWriter.quote("\u{1B}[0m") == #""\u001b[0m""#)
        #expect(JSONWriter.quote("\u{1F}") == #""\u001f""#)
    }

    @Test func leavesEverythingElseAlone() {
        #expect(JSONWriter.quote("/ é 😀 \u{7F} \u{2028}") == "\"/ é 😀 \u{7F} \u{2028}\"")
    }

    /// Whatever the input, the output is a JSON string literal that decodes back to it.
    @Test func outputDecodesBackToTheInput() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init)))
        for value in [controls, "\"\\/\u{7F}", "tab\there", "Zoë 😀 漢字", #"{"json":"inside"}"#, "é\"😀\n漢\u{01}"] {
            let quoted = JSONWriter.quote(value)
            let decoded = try JSONDecoder().decode([String].self, from: Data("[\(quoted)]".utf8))
            #expect(decoded == [value], "\(quoted)")
        }
    }

    @Test func quotedTextIsReadBackByTheIngestParser() throws {
        let source = "a\"b\\c\n\u{01}é😀"
        let text = #"{"source":\#(JSONWriter.quote(source)),"seq":1,"time":"\#(Envelope.time)","type":"CSTA_HELD"}"#
        #expect(try parseSingle(text).source == source)
    }

    @Test func optionalString() {
        #expect(JSONWriter.quote(nil) == "null")
        #expect(JSONWriter.quote(Optional("x")) == #""x""#)
        #expect(JSONWriter.quote(Optional("a\"b")) == #""a\"b""#)
    }

    @Test func numbers() {
        var writer = JSONWriter()
        writer.array([nil, Int64(42), -7, Int64.min]) { a, value in a.number(value) }
        #expect(writer.text == "[null,42,-7,-9223372036854775808]")
    }

    @Test func objectsKeepTheirMemberOrderAndWriteNullForNil() {
        let text = JSONWriter.object { o in
            o.add("z", "last first")
            o.add("a", nil as String?)
            o.addIfPresent("skipped", nil)
            o.add("n", number: Optional(UInt8(255)))
            o.add("flag", bool: true)
            o.add("list", strings: ["x", "y\"z"])
            o.add("nested") { n in n.add("tree", tree: .object([("k", .array([1, "v", .null]))])) }
        }
        #expect(
            text
                == #"{"z":"last first","a":null,"n":255,"flag":true,"list":["x","y\"z"],"nested":{"tree":{"k":[1,"v",null]}}}"#
        )
    }

    @Test func aTreeIsWrittenAsItWasParsed() throws {
        let text = #"{"b":[1,2.50,{"c":null}],"a":"\u00e9\n","t":true}"#
        let tree = try JSONTree(parsing: text)
        #expect(tree.text == #"{"b":[1,2.50,{"c":null}],"a":"é\n","t":true}"#)
    }
}
