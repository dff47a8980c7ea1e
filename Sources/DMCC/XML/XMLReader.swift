/// Reads one XML document, as AES sends in a DMCC frame, into an `XMLElement` tree.
///
/// Why a reader of our own: a link reads every event AES reports, and the messages use a small part of XML
/// (a prolog, elements, attributes, character data, the five entities and character references, now and then a
/// comment or CDATA). FoundationXML's `XMLParser` brings libxml2 into the binary and builds strings through
/// callbacks; this reader is one pass over the bytes (`calltrail-bench dmcc` compares the two). It refuses what
/// DMCC never sends (a DOCTYPE, so no entity expansion) and bounds nesting.
package struct XMLReader {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    /// Documents nested deeper than this are refused: DMCC's deepest is about ten.
    package static let maxDepth = 64

    private init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The document's root element.
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(DMCCError) -> XMLElement {
        var reader = XMLReader(bytes)
        // XML allows no NUL character, and PostgreSQL stores no NUL in text: a message with one is not XML, and
        // could not be kept as received.
        if let nul = bytes.firstIndex(of: 0) {
            reader.index = nul
            throw reader.error("a NUL byte, which XML does not allow,")
        }
        try reader.skipProlog()
        guard reader.peek == UInt8(ascii: "<") else { throw reader.error("the document has no root element") }
        let root = try reader.element(depth: 0)
        try reader.skipMisc()
        guard reader.index == bytes.count else { throw reader.error("text after the root element") }
        return root
    }

    package static func parse(_ text: String) throws(DMCCError) -> XMLElement {
        try parse(Array(text.utf8))
    }

    package static func parse(_ bytes: [UInt8]) throws(DMCCError) -> XMLElement {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(DMCCError) -> XMLElement in try parse(buffer) }
        }
        return try result.get()
    }

    // MARK: - Structure

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func error(_ message: String) -> DMCCError {
        DMCCError(.malformedXML, "\(message) at byte \(index)")
    }

    private func starts(with text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let start = text.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] { return false }
        return true
    }

    private mutating func skipSpace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    /// Skips up to and past `terminator`, or fails naming `what`.
    private mutating func skip(past terminator: StaticString, _ what: String) throws(DMCCError) {
        while index < bytes.count {
            if starts(with: terminator) {
                index += terminator.utf8CodeUnitCount
                return
            }
            index += 1
        }
        throw error("unterminated \(what)")
    }

    /// A byte-order mark, the `<?xml ...?>` declaration, comments and white space.
    private mutating func skipProlog() throws(DMCCError) {
        if starts(with: "\u{FEFF}") { index += 3 }
        try skipMisc()
        if starts(with: "<!DOCTYPE") { throw error("a DOCTYPE is not accepted") }
    }

    private mutating func skipMisc() throws(DMCCError) {
        while true {
            skipSpace()
            if starts(with: "<?") {
                try skip(past: "?>", "processing instruction")
            } else if starts(with: "<!--") {
                try skip(past: "-->", "comment")
            } else {
                return
            }
        }
    }

    private mutating func name() throws(DMCCError) -> (local: String, prefix: Bool) {
        let start = index
        var colon: Int?
        while let byte = peek,
            !(byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == UInt8(ascii: ">")
                || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "<"))
        {
            if byte == UInt8(ascii: ":") { colon = index }
            index += 1
        }
        guard index > start else { throw error("a name was expected") }
        guard colon != start, colon != index - 1 else { throw error("a name starts or ends with ':'") }
        let localStart = (colon ?? (start - 1)) + 1
        return (string(from: localStart, to: index), colon != nil)
    }

    private func string(from start: Int, to end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    private mutating func element(depth: Int) throws(DMCCError) -> XMLElement {
        guard depth < Self.maxDepth else { throw error("elements nested deeper than \(Self.maxDepth)") }
        index += 1  // <
        let (local, _) = try name()
        var element = XMLElement(local)
        // Attributes.
        while true {
            skipSpace()
            guard let byte = peek else { throw error("unterminated start tag <\(local)>") }
            if byte == UInt8(ascii: "/") {
                index += 1
                guard peek == UInt8(ascii: ">") else { throw error("'>' expected after '/' in <\(local)>") }
                index += 1
                return element
            }
            if byte == UInt8(ascii: ">") {
                index += 1
                break
            }
            let (attribute, _) = try name()
            skipSpace()
            guard peek == UInt8(ascii: "=") else { throw error("'=' expected after attribute \(attribute)") }
            index += 1
            skipSpace()
            guard let quote = peek, quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                throw error("a quoted value expected for attribute \(attribute)")
            }
            index += 1
            let value = try characters(until: quote)
            index += 1
            element.attributes.append((attribute, value))
        }
        // Content.
        var text = ""
        while true {
            guard let byte = peek else { throw error("<\(local)> is not closed") }
            if byte != UInt8(ascii: "<") {
                text += try characters(until: UInt8(ascii: "<"))
                continue
            }
            if starts(with: "</") {
                index += 2
                let (closing, _) = try name()
                guard closing == local else { throw error("</\(closing)> closes <\(local)>") }
                skipSpace()
                guard peek == UInt8(ascii: ">") else { throw error("'>' expected to close </\(closing)>") }
                index += 1
                element.text = text
                return element
            } else if starts(with: "<!--") {
                try skip(past: "-->", "comment")
            } else if starts(with: "<![CDATA[") {
                index += 9
                let start = index
                try skip(past: "]]>", "CDATA section")
                text += string(from: start, to: index - 3)
            } else if starts(with: "<?") {
                try skip(past: "?>", "processing instruction")
            } else {
                element.children.append(try self.element(depth: depth + 1))
            }
        }
    }

    /// Character data up to (not including) `terminator`, with entities and character references resolved.
    private mutating func characters(until terminator: UInt8) throws(DMCCError) -> String {
        let start = index
        var hasEntity = false
        while let byte = peek, byte != terminator {
            if byte == UInt8(ascii: "&") { hasEntity = true }
            index += 1
        }
        guard peek == terminator else { throw error("unterminated text") }
        guard hasEntity else { return string(from: start, to: index) }
        return try Self.resolvingEntities(string(from: start, to: index), at: start)
    }

    private static func resolvingEntities(_ text: String, at offset: Int) throws(DMCCError) -> String {
        // By Unicode scalars, not characters: a ';' followed by a combining mark is still the entity's end.
        var out = String.UnicodeScalarView()
        var scalars = text.unicodeScalars[...]
        while let amp = scalars.firstIndex(of: "&") {
            out.append(contentsOf: scalars[..<amp])
            guard let semicolon = scalars[amp...].firstIndex(of: ";") else {
                throw DMCCError(.malformedXML, "an '&' that starts no entity near byte \(offset)")
            }
            let entity = String(String.UnicodeScalarView(scalars[scalars.index(after: amp)..<semicolon]))
            switch entity {
            case "lt": out.append("<")
            case "gt": out.append(">")
            case "amp": out.append("&")
            case "quot": out.append("\"")
            case "apos": out.append("'")
            default:
                let hex = entity.hasPrefix("#x")
                let digits = entity.dropFirst(hex ? 2 : 1)
                let isNumber =
                    entity.hasPrefix("#") && !digits.isEmpty
                    && digits.allSatisfy { hex ? $0.isHexDigit : ("0"..."9").contains($0) }
                guard isNumber, let value = UInt32(digits, radix: hex ? 16 : 10), value != 0,
                    let scalar = Unicode.Scalar(value)
                else {
                    throw DMCCError(.malformedXML, "unknown entity &\(entity); near byte \(offset)")
                }
                out.append(scalar)
            }
            scalars = scalars[scalars.index(after: semicolon)...]
        }
        out.append(contentsOf: scalars)
        return String(out)
    }
}
