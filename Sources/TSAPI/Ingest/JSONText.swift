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
