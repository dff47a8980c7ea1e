/// A JSON value parsed into a small tree: for decoding stored events by hand, and for the user data that
/// applications store (any JSON, numbers kept as written).
///
/// Projections decode every stored event; through `JSONDecoder` that was more than half of a rebuild's time.
/// A tree with members in document order, read by `TSAPIEvent(json:)`, gives the same result for a fraction
/// of the cost (`TSAPIEventFastDecodingTests` checks that it is the same).
package enum JSONTree: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case object([(key: String, value: JSONTree)])
    case array([JSONTree])
    case string(String)
    /// The number's text, as written.
    case number(String)
    case bool(Bool)
    case null

    package init(stringLiteral value: String) { self = .string(value) }
    package init(integerLiteral value: Int64) { self = .number(String(value)) }

    /// An integer.
    package static func int(_ value: Int64) -> JSONTree { .number(String(value)) }

    /// What a parse does with text PostgreSQL cannot store as it is: bytes that are not UTF-8 and `\u0000`.
    enum StringPolicy {
        /// Stored events, read for the read models: U+FFFD in their place, as the event is never refused.
        case repair
        /// Data a client sends to be stored: an error naming where it is.
        case reject
    }

    /// `only`: the members of the top-level object to read; the others are checked for syntax and skipped (in a
    /// link event stored before the XML had a column of its own, its `dmcc` XML, a few kilobytes of escaped text
    /// no read model needs, is most of the event).
    static func parse(
        _ bytes: UnsafeRawBufferPointer, strings: StringPolicy = .repair, only: Set<String>? = nil
    ) throws(JSONScanner.SyntaxError) -> JSONTree {
        var scanner = JSONScanner(bytes)
        scanner.replacesNUL = strings == .repair
        let tree = try parse(&scanner, depth: 0, strings: strings, only: only)
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw scanner.error("unexpected text after the value") }
        return tree
    }

    private static func parse(
        _ scanner: inout JSONScanner, depth: Int, strings: StringPolicy, only: Set<String>? = nil
    ) throws(JSONScanner.SyntaxError) -> JSONTree {
        guard depth < 64 else { throw scanner.error("nested too deeply") }
        switch scanner.kindOfNext() {
        case .object:
            scanner.advance(by: 1)
            var members: [(key: String, value: JSONTree)] = []
            try scanner.forEachMember { (scanner: inout JSONScanner, key: JSONKey) throws(JSONScanner.SyntaxError) in
                let name = key.string
                if let only, !only.contains(name) { return try scanner.skipValue() }
                if strings == .reject, name.utf8.contains(0) {
                    throw JSONScanner.SyntaxError(
                        message: "a member name \(JSONScanner.StringProblem.nul.message)", offset: scanner.offset,
                        isUnstorableText: true)
                }
                do throws(JSONScanner.SyntaxError) {
                    members.append((name, try parse(&scanner, depth: depth + 1, strings: strings)))
                } catch {
                    var error = error
                    error.path.insert(name, at: 0)
                    throw error
                }
            }
            return .object(members)
        case .array:
            scanner.advance(by: 1)
            var items: [JSONTree] = []
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: "]") {
                scanner.advance(by: 1)
                return .array(items)
            }
            while true {
                do throws(JSONScanner.SyntaxError) {
                    items.append(try parse(&scanner, depth: depth + 1, strings: strings))
                } catch {
                    var error = error
                    error.path.insert("[\(items.count)]", at: 0)
                    throw error
                }
                scanner.skipWhitespace()
                switch scanner.peek {
                case UInt8(ascii: ","): scanner.advance(by: 1)
                case UInt8(ascii: "]"):
                    scanner.advance(by: 1)
                    return .array(items)
                default: throw scanner.error("expected ',' or ']'")
                }
            }
        case .string:
            guard strings == .reject else { return .string(try scanner.readString()) }
            switch try scanner.readCheckedString() {
            case .success(let text): return .string(text)
            case .failure(let problem):
                throw JSONScanner.SyntaxError(message: problem.message, offset: scanner.offset, isUnstorableText: true)
            }
        case .number:
            return .number(String(try scanner.readNumberText()))
        case .bool:
            let isTrue = scanner.peek == UInt8(ascii: "t")
            try scanner.skipValue()
            return .bool(isTrue)
        case .null:
            try scanner.skipValue()
            return .null
        case .invalid:
            throw scanner.error("expected a value")
        }
    }

    package subscript(key: String) -> JSONTree? {
        guard case .object(let members) = self else { return nil }
        for member in members where member.key == key { return member.value }
        return nil
    }

    package var isObject: Bool {
        if case .object = self { true } else { false }
    }

    package var string: String? {
        if case .string(let text) = self { text } else { nil }
    }

    /// An integer written as a JSON number.
    package var integer: Int64? {
        if case .number(let text) = self { Int64(text) } else { nil }
    }

    /// An integer written as a JSON number or as a numeric string (serialisers differ).
    package var lenientInteger: Int64? {
        switch self {
        case .number(let text): Int64(text)
        case .string(let text): Int64(text)
        default: nil
        }
    }

    /// A TSAPI enumeration: its name, or a number kept as its digits.
    var enumName: String? {
        switch self {
        case .string(let text): text
        case .number(let text): Int(text).map(String.init)
        default: nil
        }
    }
}
