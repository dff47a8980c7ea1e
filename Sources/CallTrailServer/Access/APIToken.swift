import Crypto
import Foundation

/// An API token as CallTrail keeps it: its name, scopes and dates, and the SHA-256 digest of its secret (never the
/// secret itself, which is printed once when the token is made).
package struct APIToken: Sendable, Equatable {
    package var name: String
    package var scopes: Set<Scope>
    package var createdAt: Date
    package var expiresAt: Date?
    package var lastUsedAt: Date?
    package var revokedAt: Date?
    /// The digest of the secret, as the table keeps it.
    var digest: [UInt8]

    /// Whether the token may be used at `time`: not revoked, not expired.
    func isValid(at time: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { time < $0 } ?? true)
    }

    /// A new secret: `ct_` and 32 random bytes, base64url without padding (43 characters). The prefix lets secret
    /// scanners find a leaked one.
    package static func makeSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "ct_" + text
    }

    /// The digest a secret is found by. A secret has 256 bits of chance in it, so a fast hash is enough: nobody can
    /// guess their way back from a digest.
    package static func digest(of secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(secret.utf8)))
    }

    /// Compares two digests in time that does not depend on where they first differ.
    static func sameDigest(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// A token name: 1 to 64 letters, digits, `.`, `_` or `-`, so it can stand in logs and audit entries as it is.
    package static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.count)
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}
