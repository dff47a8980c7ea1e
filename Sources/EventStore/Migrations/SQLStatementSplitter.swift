/// Splits a migration file into statements.
///
/// PostgresNIO's extended protocol runs one statement per query, so a file must be cut at each top-level `;`,
/// minding quotes, quoted identifiers, dollar-quoted bodies (`$$ … $$`, `$tag$ … $tag$`) and comments.
package enum SQLStatementSplitter {
    package static func split(_ sql: String) -> [String] {
        let chars = Array(sql.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var index = 0
        func flush() {
            let text = String(current).trimmingWhitespace()
            if !text.isEmpty, !isOnlyComments(text) { statements.append(text) }
            current.removeAll()
        }
        while index < chars.count {
            let c = chars[index]
            let next: Unicode.Scalar? = index + 1 < chars.count ? chars[index + 1] : nil
            if c == "-", next == "-" {
                while index < chars.count, chars[index] != "\n" { current.append(chars[index]); index += 1 }
                continue
            }
            if c == "/", next == "*" {
                var depth = 0
                while index < chars.count {
                    if chars[index] == "/", index + 1 < chars.count, chars[index + 1] == "*" {
                        depth += 1; current.append("/"); current.append("*"); index += 2; continue
                    }
                    if chars[index] == "*", index + 1 < chars.count, chars[index + 1] == "/" {
                        depth -= 1; current.append("*"); current.append("/"); index += 2
                        if depth == 0 { break }
                        continue
                    }
                    current.append(chars[index]); index += 1
                }
                continue
            }
            if c == "'" || c == "\"" {
                current.append(c); index += 1
                while index < chars.count {
                    current.append(chars[index])
                    if chars[index] == c {
                        // A doubled quote is an escaped quote inside the literal.
                        if index + 1 < chars.count, chars[index + 1] == c { current.append(c); index += 2; continue }
                        index += 1
                        break
                    }
                    index += 1
                }
                continue
            }
            if c == "$", let tag = dollarTag(chars, at: index) {
                current.append(contentsOf: tag.unicodeScalars); index += tag.unicodeScalars.count
                let tagScalars = Array(tag.unicodeScalars)
                while index < chars.count {
                    if chars[index] == "$", index + tagScalars.count <= chars.count,
                        Array(chars[index..<(index + tagScalars.count)]) == tagScalars
                    {
                        current.append(contentsOf: tag.unicodeScalars); index += tagScalars.count
                        break
                    }
                    current.append(chars[index]); index += 1
                }
                continue
            }
            if c == ";" {
                flush(); index += 1
                continue
            }
            current.append(c); index += 1
        }
        flush()
        return statements
    }

    /// `$$` or `$tag$` where tag is an identifier; `$1` (a parameter) is not a dollar quote.
    private static func dollarTag(_ chars: [Unicode.Scalar], at start: Int) -> String? {
        var index = start + 1
        var tag = "$"
        while index < chars.count {
            let c = chars[index]
            if c == "$" { return tag + "$" }
            guard c.properties.isAlphabetic || c == "_" || (index > start + 1 && ("0"..."9").contains(c)) else {
                return nil
            }
            tag.unicodeScalars.append(c)
            index += 1
        }
        return nil
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy {
            $0.trimmingWhitespace().isEmpty || $0.trimmingWhitespace().hasPrefix("--")
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
