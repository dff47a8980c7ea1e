/// Writing JSON text by hand where CallTrail splices stored event bodies (already JSON) into responses:
/// re-encoding them through `JSONEncoder` would cost a decode and could reorder what was stored as received.
public enum JSONText {
    /// `value` as a JSON string literal, quotes included.
    public static func quote(_ value: String) -> String {
        // Most values need no escaping: check the bytes once and copy.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + value + "\""
        }
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A JSON string literal, or `null`.
    public static func quote(_ value: String?) -> String { value.map { quote($0) } ?? "null" }

    /// A number, or `null`.
    public static func number(_ value: (some BinaryInteger)?) -> String { value.map { "\($0)" } ?? "null" }

    /// JSON text whose strings hold bytes that are not UTF-8, with each such byte written as the escape of the
    /// Latin-1 character it would be (0xE9 becomes `\u00e9`). Only bytes inside strings can be invalid in JSON that
    /// parsed, so the result is valid JSON, and every byte's value can be read back.
    public static func escapingInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> String {
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

/// One JSON object written member by member, for documents written by hand at event speed (feed messages,
/// their stored form, ctiSVR's shapes). Values are JSON text; the helpers quote them.
public struct JSONObjectText {
    private var out: String

    public init() {
        out = "{"
        out.reserveCapacity(512)
    }

    public mutating func add(_ name: String, json value: String) {
        if out.utf8.count > 1 { out += "," }
        out += "\""
        out += name
        out += "\":"
        out += value
    }

    /// A string, or `null`.
    public mutating func add(_ name: String, _ value: String?) { add(name, json: JSONText.quote(value)) }

    /// A number, or `null`.
    public mutating func add(_ name: String, number value: Int64?) { add(name, json: JSONText.number(value)) }

    public mutating func add(_ name: String, strings values: [String]) {
        add(name, json: "[" + values.map { JSONText.quote($0) }.joined(separator: ",") + "]")
    }

    public var text: String { out + "}" }
}
