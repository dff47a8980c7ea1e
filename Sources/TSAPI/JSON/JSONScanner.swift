/// A forward-only JSON reader over raw bytes.
///
/// Ingest must keep every event exactly as received and still pull out the handful of fields that route it
/// (`source`, `time`, `type`, the UCID, the callID). Building a full value tree or running `JSONDecoder` for
/// that would cost more than the database insert, so this scanner validates the syntax of each value while
/// skipping it, and materialises only the scalars the caller asks for.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int
    /// `readString` gives U+FFFD for a `\u0000` escape: for text bound for read models, which PostgreSQL's text
    /// columns cannot hold with a NUL in it.
    var replacesNUL = false

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Why a value could not be read; the caller turns it into a 422 with the event's index.
    struct SyntaxError: Error, Equatable {
        var message: String
        var offset: Int
        /// Where in the document, when the parse was asked to say (`JSONTree(validating:)`): member names and
        /// array indexes from the top.
        var path: [String] = []
        /// The text of a string cannot be stored (`StringProblem`), rather than the JSON being malformed.
        var isUnstorableText = false
    }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func advance(by count: Int) { offset += count }

    var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): offset += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == byte else { throw error("expected \(what)") }
        offset += 1
    }

    func error(_ message: String) -> SyntaxError {
        SyntaxError(message: isAtEnd ? "\(message) but the input ended" : message, offset: offset)
    }

    /// Skips one value of any kind, checking its syntax.
    mutating func skipValue(depth: Int = 0) throws(SyntaxError) {
        guard depth < 64 else { throw error("JSON nested deeper than 64 levels") }
        skipWhitespace()
        guard let byte = peek else { throw error("expected a value") }
        switch byte {
        case UInt8(ascii: "{"):
            offset += 1
            try forEachMember(depth: depth) { (scanner: inout JSONScanner, _: JSONKey) throws(SyntaxError) in
                try scanner.skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "["):
            offset += 1
            skipWhitespace()
            if peek == UInt8(ascii: "]") { offset += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let next = peek else { throw error("expected ',' or ']'") }
                offset += 1
                if next == UInt8(ascii: "]") { return }
                guard next == UInt8(ascii: ",") else { offset -= 1; throw error("expected ',' or ']'") }
            }
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            _ = try readNumberText()
        }
    }

    /// Iterates the members of an object whose `{` was just consumed, leaving the scanner after its `}`.
    /// The body must consume the member's value.
    mutating func forEachMember(
        depth: Int = 0,
        _ body: (inout JSONScanner, JSONKey) throws(SyntaxError) -> Void
    ) throws(SyntaxError) {
        skipWhitespace()
        if peek == UInt8(ascii: "}") { offset += 1; return }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a member name in quotes") }
            let key = try readKey()
            try expect(UInt8(ascii: ":"), "':' after member name")
            try body(&self, key)
            skipWhitespace()
            guard let next = peek else { throw error("expected ',' or '}'") }
            offset += 1
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { offset -= 1; throw error("expected ',' or '}'") }
        }
    }

    private mutating func literal(_ word: StaticString) throws(SyntaxError) {
        let count = word.utf8CodeUnitCount
        guard offset + count <= bytes.count else { throw error("invalid literal") }
        for index in 0..<count where bytes[offset + index] != word.utf8Start[index] {
            throw error("invalid literal")
        }
        offset += count
    }

    private mutating func skipString() throws(SyntaxError) {
        offset += 1
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") { offset += 1; return }
            if byte == UInt8(ascii: "\\") {
                try skipEscape()
                continue
            }
            if byte < 0x20 { throw error("control character in string") }
            offset += 1
        }
        throw error("unterminated string")
    }

    /// Checks the escape at the scanner's position (a backslash) the way PostgreSQL's json type will, and skips it.
    private mutating func skipEscape() throws(SyntaxError) {
        guard offset + 1 < bytes.count else { throw error("unterminated string") }
        switch bytes[offset + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            offset += 2
        case UInt8(ascii: "u"):
            guard offset + 6 <= bytes.count, Self.hex4(bytes, offset + 2) != nil else { throw error("bad \\u escape") }
            offset += 6
        default:
            throw error("bad escape")
        }
    }

    /// Reads a member name without building a String when it has no escapes (the usual case): names are only
    /// compared with the handful the parser looks for.
    mutating func readKey() throws(SyntaxError) -> JSONKey {
        let start = offset + 1
        var index = start
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"),
            bytes[index] >= 0x20
        {
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
            offset = index + 1
            return JSONKey(raw: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), decoded: nil)
        }
        return JSONKey(raw: UnsafeRawBufferPointer(start: nil, count: 0), decoded: try readString())
    }

    /// What makes a string unfit for a column of CallTrail's own: PostgreSQL's text holds neither.
    enum StringProblem: Error, Equatable {
        case invalidUTF8
        case nul

        /// Said after the field's name.
        var message: String {
            switch self {
            case .invalidUTF8: "is not valid UTF-8"
            case .nul: "contains a NUL character (\\u0000), which CallTrail cannot store"
            }
        }
    }

    /// Reads a string value and says what is wrong with its text, if anything: bytes that are not UTF-8, or a
    /// `\u0000` escape. (`readString` repairs the first and keeps the second.)
    mutating func readCheckedString() throws(SyntaxError) -> Result<String, StringProblem> {
        skipWhitespace()
        let start = offset
        let value = try readString()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(offset - 1)])
        guard String(validating: raw, as: UTF8.self) != nil || raw.isEmpty else { return .failure(.invalidUTF8) }
        if value.utf8.contains(0) { return .failure(.nul) }
        return .success(value)
    }

    /// Reads a string value (the scanner must be at its opening quote), decoding escapes.
    mutating func readString() throws(SyntaxError) -> String {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { throw error("expected a string") }
        let start = offset + 1
        var index = start
        var hasEscape = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                hasEscape = true
                offset = index
                try skipEscape()
                index = offset
                continue
            }
            if byte < 0x20 { offset = index; throw error("control character in string") }
            index += 1
        }
        guard index < bytes.count else { offset = index; throw error("unterminated string") }
        offset = index + 1
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        if !hasEscape { return String(decoding: raw, as: UTF8.self) }
        return try unescape(raw, at: start)
    }

    private func unescape(_ raw: UnsafeRawBufferPointer, at start: Int) throws(SyntaxError) -> String {
        var scalars = String.UnicodeScalarView()
        var utf8 = [UInt8]()
        var index = 0
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars); utf8.removeAll()
            }
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else { utf8.append(byte); index += 1; continue }
            guard index + 1 < raw.count else { throw SyntaxError(message: "bad escape", offset: start + index) }
            let code = raw[index + 1]
            index += 2
            switch code {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(code)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                guard index + 4 <= raw.count, let unit = Self.hex4(raw, index) else {
                    throw SyntaxError(message: "bad \\u escape", offset: start + index)
                }
                index += 4
                var value = UInt32(unit)
                if (0xD800..<0xDC00).contains(unit), index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"),
                    raw[index + 1] == UInt8(ascii: "u"), let low = Self.hex4(raw, index + 2),
                    (0xDC00..<0xE000).contains(low)
                {
                    value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    index += 6
                }
                flush()
                scalars.append(value == 0 && replacesNUL ? "\u{FFFD}" : Unicode.Scalar(value) ?? "\u{FFFD}")
            default:
                throw SyntaxError(message: "bad escape", offset: start + index)
            }
        }
        flush()
        return String(scalars)
    }

    private static func hex4(_ raw: UnsafeRawBufferPointer, _ at: Int) -> UInt16? {
        var value: UInt16 = 0
        for index in at..<(at + 4) {
            let byte = raw[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// Reads the text of a number, checking JSON number syntax.
    mutating func readNumberText() throws(SyntaxError) -> Substring {
        skipWhitespace()
        let start = offset
        if peek == UInt8(ascii: "-") { offset += 1 }
        let digitsStart = offset
        while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { offset += 1 }
        guard offset > digitsStart else { throw error("expected a value") }
        guard bytes[digitsStart] != UInt8(ascii: "0") || offset - digitsStart == 1 else {
            throw error("number with a leading zero")
        }
        if peek == UInt8(ascii: ".") {
            offset += 1
            let fraction = offset
            while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { offset += 1 }
            guard offset > fraction else { throw error("bad number") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            offset += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { offset += 1 }
            let exponent = offset
            while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { offset += 1 }
            guard offset > exponent else { throw error("bad number") }
        }
        return Substring(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self))
    }

    /// What kind of value starts at the scanner's position (after white space).
    enum Kind { case object, array, string, number, bool, null, invalid }

    mutating func kindOfNext() -> Kind {
        skipWhitespace()
        switch peek {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case .some(let byte)
        where byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")):
            return .number
        default: return .invalid
        }
    }

    /// Reads an integer given as a JSON number or a numeric string (serialisers differ); any other value is
    /// skipped and gives nil.
    mutating func readLenientInteger() throws(SyntaxError) -> Int64? {
        switch kindOfNext() {
        case .number: return Int64(try readNumberText())
        case .string: return Int64(try readString())
        default: try skipValue(); return nil
        }
    }

    /// Reads a string, or the text of a number; any other value is skipped and gives nil.
    mutating func readLenientString() throws(SyntaxError) -> String? {
        switch kindOfNext() {
        case .string: return try readString()
        case .number: return String(try readNumberText())
        default: try skipValue(); return nil
        }
    }
}

/// A member name as it stands in the input: compared byte for byte with the names the parser knows.
struct JSONKey {
    let raw: UnsafeRawBufferPointer
    /// Set only when the name had escapes.
    let decoded: String?

    var string: String { decoded ?? String(decoding: raw, as: UTF8.self) }

    static func == (key: JSONKey, name: StaticString) -> Bool {
        if let decoded = key.decoded { return decoded == name.description }
        guard key.raw.count == name.utf8CodeUnitCount else { return false }
        let expected = name.utf8Start
        for index in 0..<key.raw.count where key.raw[index] != expected[index] { return false }
        return true
    }

    static func ~= (name: StaticString, key: JSONKey) -> Bool { key == name }
}
