/// The short key under which CallTrail keeps an application's user data, and which travels in the call's UUI.
///
/// Twenty printable ASCII characters: `CT`, sixteen symbols of randomness (80 bits) and two check symbols, in
/// Crockford's base-32 alphabet (`0-9 A-Z` without `I L O U`), for example `CT6Q9ZP4M2XK7RB1TDTP`. Twenty
/// bytes fit the 32-byte UUI of older private-data versions and H.323 stations with room for other items,
/// and the shared-UUI item that carries them costs two bytes more.
///
/// Why this shape: the key must be found inside UUI that holds other text (`ACCT=1;CT6Q9…`), inside hex UUI,
/// and inside Avaya's shared-UUI items, without a delimiter anyone agreed on. The prefix finds candidates, and
/// the check symbols (a CRC-10, which catches every error within two adjacent symbols) turn away the text that
/// merely looks like a key, so a scan does not invent keys; a key typed with one symbol wrong is malformed
/// (400), not unknown (404). Lowercase is read as uppercase, since some systems change the case of UUI.
package struct UserDataKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The canonical text: uppercase.
    package let rawValue: String

    package static let prefix = "CT"
    package static let length = 20
    static let randomSymbols = 16
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// A new key from a cryptographically secure generator (the system's, by default).
    package static func random() -> UserDataKey {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    package static func random(using generator: inout some RandomNumberGenerator) -> UserDataKey {
        let bits = UInt128(generator.next() as UInt64) << 16 | UInt128(generator.next() as UInt16)
        let symbols = (0..<randomSymbols).map { index in
            UInt8(truncatingIfNeeded: bits >> UInt128(75 - 5 * index) & 0x1F)
        }
        return UserDataKey(symbols: symbols)
    }

    init(symbols: [UInt8]) {
        let check = Self.check(symbols)
        var bytes = Array(Self.prefix.utf8)
        bytes += symbols.map { Self.alphabet[Int($0)] }
        bytes += [Self.alphabet[Int(check >> 5)], Self.alphabet[Int(check & 0x1F)]]
        rawValue = String(decoding: bytes, as: UTF8.self)
    }

    /// A key read from text that must be exactly one; the error says what is wrong with it.
    package init(validating text: String) throws(TSAPIError) {
        let bytes = Array(text.utf8)
        guard bytes.count == Self.length else {
            throw TSAPIError.userDataKey(text, "it has \(bytes.count) characters, not \(Self.length)")
        }
        guard bytes[0] | 0x20 == UInt8(ascii: "c"), bytes[1] | 0x20 == UInt8(ascii: "t") else {
            throw TSAPIError.userDataKey(text, "it does not start with \(Self.prefix)")
        }
        var symbols: [UInt8] = []
        for (offset, byte) in bytes[2...].enumerated() {
            guard let value = Self.symbol(byte) else {
                throw TSAPIError.userDataKey(text, "character \(offset + 3) is not one of 0-9 A-Z without I, L, O, U")
            }
            symbols.append(value)
        }
        let check = UInt16(symbols[Self.randomSymbols]) << 5 | UInt16(symbols[Self.randomSymbols + 1])
        guard check == Self.check(Array(symbols[..<Self.randomSymbols])) else {
            throw TSAPIError.userDataKey(text, "its check characters do not match: a character is wrong")
        }
        self.init(symbols: Array(symbols[..<Self.randomSymbols]))
    }

    package init?(_ text: String) {
        guard let key = try? UserDataKey(validating: text) else { return nil }
        self = key
    }

    package var description: String { rawValue }

    /// The key as hex, for `UUI_USER_SPECIFIC` UUI and SIP `User-to-User` headers.
    package var hex: String {
        rawValue.utf8.map { byte in
            let digits = Array("0123456789ABCDEF".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
        }.joined()
    }

    package static func < (lhs: UserDataKey, rhs: UserDataKey) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Every key in a call's UUI, in order of appearance, each once.
    ///
    /// Looks in the text as given (`UUI_IA5_ASCII`, or any item of it), and, when the text is hex
    /// (`UUI_USER_SPECIFIC`, or Avaya shared UUI such as `04C814…FA08…` with an optional `;encoding=hex`), in the
    /// bytes it encodes: the ASCII of a key sits whole inside the item that carries it, whatever the protocol
    /// discriminator and the other items around it.
    package static func find(in uui: UserToUserInfo) -> [UserDataKey] {
        find(inText: uui.data)
    }

    package static func find(inText text: String) -> [UserDataKey] {
        // Most UUI holds no key, and projections ask for every event that carries UUI: no copy of a text too
        // short to hold one.
        guard text.utf8.count >= length else { return [] }
        var keys: [UserDataKey] = []
        let bytes = Array(text.utf8)
        scan(bytes, into: &keys)
        if let decoded = hexBytes(bytes) { scan(decoded, into: &keys) }
        return keys
    }

    /// The bytes a hex text encodes; nil when it is not hex. Whitespace and a SIP `;encoding=hex` are allowed.
    static func hexBytes(_ text: [UInt8]) -> [UInt8]? {
        var digits: [UInt8] = []
        digits.reserveCapacity(text.count)
        for byte in text {
            if byte == UInt8(ascii: ";") { break }
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { continue }
            guard let value = hexValue(byte) else { return nil }
            digits.append(value)
        }
        guard digits.count >= 2 * length, digits.count % 2 == 0 else { return nil }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    static func scan(_ bytes: [UInt8], into keys: inout [UserDataKey]) {
        guard bytes.count >= length else { return }
        var index = 0
        while index + length <= bytes.count {
            if bytes[index] | 0x20 == UInt8(ascii: "c"), bytes[index + 1] | 0x20 == UInt8(ascii: "t"),
                let key = UserDataKey(String(decoding: bytes[index..<index + length], as: UTF8.self))
            {
                if !keys.contains(key) { keys.append(key) }
                index += length
            } else {
                index += 1
            }
        }
    }

    static func symbol(_ byte: UInt8) -> UInt8? {
        let upper = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 0x20 : byte
        guard let index = alphabet.firstIndex(of: upper) else { return nil }
        return UInt8(index)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// CRC-10 (polynomial x¹⁰+x⁹+x⁵+x⁴+x+1) of the 80 random bits: any error confined to ten consecutive bits,
    /// so any wrong symbol or two adjacent ones, changes it.
    static func check(_ symbols: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for symbol in symbols {
            for bit in (0..<5).reversed() {
                let incoming = UInt16((symbol >> UInt8(bit)) & 1)
                let top = (crc >> 9) & 1
                crc = (crc << 1) & 0x3FF
                if top ^ incoming == 1 { crc ^= 0x233 }
            }
        }
        return crc
    }
}

extension TSAPIError {
    /// Why a text is not a user-data key (a 400 for the client).
    static func userDataKey(_ text: String, _ reason: String) -> TSAPIError {
        TSAPIError(
            .userDataKey,
            "\"\(text)\" is not a CallTrail user-data key (CT and 18 characters of 0-9 A-Z without I, L, O, U): \(reason)"
        )
    }
}

extension UserDataKey: Codable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try UserDataKey(validating: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
