/// Avaya's Universal Call ID: the one identifier a call keeps across transfers within a switch, and the key of
/// every CallTrail stream.
///
/// The ASCII form is 20 digits `NNNNNSSSSSTTTTTTTTTT`: the switch's UCID network node id (1–32767), a per-node
/// sequence (1–65535) and the call's origination time in epoch seconds. In shared UUI over
/// ISDN/SIP it travels as the 8-byte item `FA 08 <node:2><seq:2><time:4>`, big-endian.
package struct UCID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 20 digits.
    package let rawValue: String

    /// Accepts exactly 20 ASCII digits that are not all zeros. An empty or all-zero UCID means "none" in TSAPI,
    /// so it gives nil like any malformed value.
    package init?(_ text: some StringProtocol) {
        let utf8 = text.utf8
        guard utf8.count == 20 else { return nil }
        var allZero = true
        for byte in utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            if byte != UInt8(ascii: "0") { allZero = false }
        }
        guard !allZero else { return nil }
        self.rawValue = String(text)
    }

    /// Builds a UCID from its parts, as a switch does.
    package init(node: Int, sequence: Int, time: Int64) {
        precondition(
            (0...99_999).contains(node) && (0...99_999).contains(sequence) && (0...9_999_999_999).contains(time))
        func pad(_ value: some BinaryInteger, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: width - digits.count) + digits
        }
        self.rawValue = pad(node, 5) + pad(sequence, 5) + pad(time, 10)
    }

    /// Decodes the binary form (8 bytes: node, sequence, time) found in shared UUI item `FA 08`.
    package init?(binary bytes: some Collection<UInt8>) {
        guard bytes.count == 8 else { return nil }
        let b = Array(bytes)
        let node = Int(b[0]) << 8 | Int(b[1])
        let sequence = Int(b[2]) << 8 | Int(b[3])
        let time = Int64(b[4]) << 24 | Int64(b[5]) << 16 | Int64(b[6]) << 8 | Int64(b[7])
        guard node > 0 || sequence > 0 || time > 0 else { return nil }
        self.init(node: node, sequence: sequence, time: time)
    }

    /// The switch's UCID network node id.
    package var node: Int { Int(rawValue.prefix(5))! }
    /// The per-node call sequence number.
    package var sequence: Int { Int(rawValue.dropFirst(5).prefix(5))! }
    /// The call's origination time, in seconds since 1970.
    package var originationEpochSeconds: Int64 { Int64(rawValue.suffix(10))! }

    /// The 8-byte binary form, as carried in shared UUI.
    package var binary: [UInt8] {
        let node = UInt16(truncatingIfNeeded: self.node)
        let sequence = UInt16(truncatingIfNeeded: self.sequence)
        let time = UInt32(truncatingIfNeeded: originationEpochSeconds)
        return [
            UInt8(node >> 8), UInt8(node & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF),
            UInt8(time >> 24), UInt8(time >> 16 & 0xFF), UInt8(time >> 8 & 0xFF), UInt8(time & 0xFF),
        ]
    }

    package var description: String { rawValue }

    package static func < (lhs: UCID, rhs: UCID) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension UCID: Codable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let ucid = UCID(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a UCID is 20 digits, not all zeros; got \"\(text)\"")
        }
        self = ucid
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
