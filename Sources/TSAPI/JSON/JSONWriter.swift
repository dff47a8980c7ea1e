import Foundation

/// CallTrail's one hand-written JSON writer, for the documents written at event speed: feed messages and their
/// stored form, ctiSVR's events, the journey's stored state, the simulator's events, and stored event bodies
/// spliced into responses as they were received. Everything written at request speed goes through `Codable`
/// (`JSONEncoder` with sorted keys) instead.
///
/// Why by hand here: the projector writes one feed message or more per event and a rebuild writes every journey;
/// through `JSONEncoder` that was a third of a rebuild's time (`calltrail-bench projections`). A stored event's
/// body is JSON already; re-encoding it would cost a decode and could reorder what was stored as received.
///
/// Members come out in the order they are written, so a document is always the same text. Values are written
/// by the typed methods, or as `json:` text that is already JSON.
package struct JSONWriter {
    package private(set) var text: String
    private var needsComma = false

    package init(capacity: Int = 512) {
        text = ""
        text.reserveCapacity(capacity)
    }

    /// A writer whose text is one object, written by `body`.
    package static func object(capacity: Int = 512, _ body: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter(capacity: capacity)
        writer.object(body)
        return writer.text
    }

    // MARK: - Values

    /// JSON text written as it is.
    package mutating func json(_ value: String) {
        if needsComma { text.append(",") }
        text.append(value)
        needsComma = true
    }

    /// A string, or `null`.
    package mutating func string(_ value: String?) { json(Self.quote(value)) }

    /// A number, or `null`.
    package mutating func number(_ value: (some BinaryInteger)?) { json(value.map { String($0) } ?? "null") }

    package mutating func number(_ value: Double) { json(value.description) }

    package mutating func bool(_ value: Bool) { json(value ? "true" : "false") }

    /// A parsed value, members in their order.
    package mutating func tree(_ value: JSONTree) {
        switch value {
        case .object(let members):
            object { o in
                for member in members { o.add(member.key, tree: member.value) }
            }
        case .array(let items):
            array(items) { a, item in a.tree(item) }
        case .string(let text): string(text)
        case .number(let text): json(text)
        case .bool(let flag): bool(flag)
        case .null: json("null")
        }
    }

    package mutating func object(_ body: (inout JSONWriter) -> Void) {
        if needsComma { text.append(",") }
        text.append("{")
        needsComma = false
        body(&self)
        text.append("}")
        needsComma = true
    }

    package mutating func array<Element>(
        _ elements: some Sequence<Element>, _ body: (inout JSONWriter, Element) -> Void
    ) {
        if needsComma { text.append(",") }
        text.append("[")
        needsComma = false
        for element in elements { body(&self, element) }
        text.append("]")
        needsComma = true
    }

    // MARK: - Members

    /// A member's name; its value is whatever is written next.
    package mutating func key(_ name: String) {
        if needsComma { text.append(",") }
        text.append(Self.quote(name))
        text.append(":")
        needsComma = false
    }

    /// A member whose value is JSON text.
    package mutating func add(_ name: String, json value: String) {
        key(name)
        json(value)
    }

    /// A string member, `null` when nil.
    package mutating func add(_ name: String, _ value: String?) {
        key(name)
        string(value)
    }

    /// A number member, `null` when nil.
    package mutating func add(_ name: String, number value: (some BinaryInteger)?) {
        key(name)
        number(value)
    }

    package mutating func add(_ name: String, number value: Double) {
        key(name)
        number(value)
    }

    package mutating func add(_ name: String, bool value: Bool) {
        key(name)
        bool(value)
    }

    package mutating func add(_ name: String, strings values: [String]) {
        key(name)
        array(values) { a, value in a.string(value) }
    }

    package mutating func add(_ name: String, tree value: JSONTree?) {
        key(name)
        if let value { tree(value) } else { json("null") }
    }

    package mutating func add(_ name: String, object body: (inout JSONWriter) -> Void) {
        key(name)
        object(body)
    }

    package mutating func add<Element>(
        _ name: String, array elements: some Sequence<Element>, _ body: (inout JSONWriter, Element) -> Void
    ) {
        key(name)
        array(elements, body)
    }

    /// A string member only when there is a value, as `encodeIfPresent` does.
    package mutating func addIfPresent(_ name: String, _ value: String?) {
        if let value { add(name, value) }
    }

    // MARK: - Text

    /// `value` as a JSON string literal, quotes included.
    ///
    /// Byte-wise, in runs: the text between the bytes that need an escape is copied whole. Escaping character by
    /// character was a third of the link's CPU (`calltrail-bench link`) when each event's DMCC XML, attributes and
    /// all, was escaped into its JSON; the API still escapes that XML into every link event it returns.
    package static func quote(_ value: String) -> String {
        var value = value
        let escaped = value.withUTF8 { bytes -> String? in
            var extra = 0
            for byte in bytes where needsEscape(byte) { extra += escapeLength(byte) - 1 }
            guard extra > 0 else { return nil }
            return String(unsafeUninitializedCapacity: bytes.count + extra + 2) { out in
                out[0] = UInt8(ascii: "\"")
                var written = 1
                var run = 0
                for index in 0..<bytes.count {
                    let byte = bytes[index]
                    guard needsEscape(byte) else { continue }
                    if index > run {
                        _ = UnsafeMutableBufferPointer(rebasing: out[written...]).initialize(
                            from: UnsafeBufferPointer(rebasing: bytes[run..<index]))
                        written += index - run
                    }
                    written += writeEscape(byte, to: out, at: written)
                    run = index + 1
                }
                if bytes.count > run {
                    _ = UnsafeMutableBufferPointer(rebasing: out[written...]).initialize(
                        from: UnsafeBufferPointer(rebasing: bytes[run..<bytes.count]))
                    written += bytes.count - run
                }
                out[written] = UInt8(ascii: "\"")
                return written + 1
            }
        }
        return escaped ?? "\"" + value + "\""
    }

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// The length of a byte's escape: `\"`, `\\`, `\n`, `\r` and `\t` take two bytes, other control bytes six
    /// (`\u001f`).
    @inline(__always)
    private static func escapeLength(_ byte: UInt8) -> Int {
        byte >= 0x20 || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t") ? 2 : 6
    }

    /// Writes the escape of one byte JSON does not allow as it is in a string; returns its length.
    @inline(__always)
    private static func writeEscape(_ byte: UInt8, to out: UnsafeMutableBufferPointer<UInt8>, at index: Int) -> Int {
        out[index] = UInt8(ascii: "\\")
        switch byte {
        case UInt8(ascii: "\n"): out[index + 1] = UInt8(ascii: "n")
        case UInt8(ascii: "\r"): out[index + 1] = UInt8(ascii: "r")
        case UInt8(ascii: "\t"): out[index + 1] = UInt8(ascii: "t")
        case 0..<0x20:
            out[index + 1] = UInt8(ascii: "u")
            out[index + 2] = UInt8(ascii: "0")
            out[index + 3] = UInt8(ascii: "0")
            out[index + 4] = hexDigits[Int(byte >> 4)]
            out[index + 5] = hexDigits[Int(byte & 0xF)]
            return 6
        default: out[index + 1] = byte  // `"` and `\`
        }
        return 2
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string literal, or `null`.
    package static func quote(_ value: String?) -> String { value.map { quote($0) } ?? "null" }

    /// JSON text whose strings hold bytes that are not UTF-8, with each such byte written as the escape of the
    /// Latin-1 character it would be (0xE9 becomes `\u00e9`). Only bytes inside strings can be invalid in JSON that
    /// parsed, so the result is valid JSON, and every byte's value can be read back.
    package static func escapingInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 32)
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0
            if length > 0, index + length <= bytes.count,
                length == 1
                    || String(
                        validating: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)]), as: UTF8.self)
                        != nil
            {
                out.append(contentsOf: bytes[index..<(index + length)])
                index += length
            } else {
                let hex = Array(String(lead, radix: 16).utf8)
                out.append(contentsOf: Array("\\u00".utf8) + (hex.count == 1 ? [UInt8(ascii: "0")] : []) + hex)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
