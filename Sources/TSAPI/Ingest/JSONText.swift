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

