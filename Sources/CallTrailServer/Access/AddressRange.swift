import Foundation
import NIOCore

/// An IP address range as `--ctisvr-allow` takes it: `10.20.0.0/16`, `10.30.1.5` (one address), or the same for
/// IPv6 (`fd00::/8`).
package struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]
    let prefixLength: Int
    package let description: String

    /// Nil for text that is not an address or a range.
    package init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let bytes = Self.bytes(of: String(parts[0])) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
        guard let length, (0...bytes.count * 8).contains(length) else { return nil }
        self.bytes = bytes
        self.prefixLength = length
        self.description = text.trimmingCharacters(in: .whitespaces)
    }

    /// Whether `address` is in the range (an IPv4 address seen as IPv6, `::ffff:a.b.c.d`, counts as IPv4).
    package func contains(_ address: SocketAddress?) -> Bool {
        guard let text = address?.ipAddress, var other = Self.bytes(of: text) else { return false }
        if bytes.count == 4, other.count == 16, other[..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            other = Array(other[12...])
        }
        guard other.count == bytes.count else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if bytes[index] & mask != other[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// `--ctisvr-allow`'s list, comma-separated; an error names the entry that is not a range.
    package static func list(_ text: String) throws -> [AddressRange] {
        try text.split(separator: ",").map { entry in
            guard let range = AddressRange(String(entry)) else {
                throw AccessError("--ctisvr-allow: \(entry) is not an address or a range such as 10.20.0.0/16")
            }
            return range
        }
    }
}
