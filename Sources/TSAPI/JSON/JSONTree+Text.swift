import Foundation

/// JSON text in and out, and RFC 7396 merge patch: what the user-data service does with an application's data.
extension JSONTree: Equatable {
    /// Parses one JSON value; the error names the byte offset of the first problem.
    package init(parsing text: String) throws(TSAPIError) {
        var copy = text
        let result: Result<JSONTree, JSONScanner.SyntaxError> = copy.withUTF8 { bytes in
            do throws(JSONScanner.SyntaxError) {
                return .success(try JSONTree.parse(UnsafeRawBufferPointer(bytes)))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let tree): self = tree
        case .failure(let error): throw TSAPIError(.json, error.message, offset: error.offset)
        }
    }

    /// Parses a client's document for storing: text that is not UTF-8, or holds `\u0000`, is an error whose
    /// `field` names where (`data.customer.name`, `items[2]`), as PostgreSQL could store neither.
    package init(validating bytes: UnsafeRawBufferPointer) throws(TSAPIError) {
        do throws(JSONScanner.SyntaxError) {
            self = try JSONTree.parse(bytes, strings: .reject)
        } catch {
            guard error.isUnstorableText else { throw TSAPIError(.json, error.message, offset: error.offset) }
            let field = error.path.reduce(into: "") { path, part in
                path += part.hasPrefix("[") || path.isEmpty ? part : "." + part
            }
            throw TSAPIError(
                .json, error.message, field: field.isEmpty ? nil : field, offset: error.offset, isUnstorableText: true)
        }
        // Bytes that are not UTF-8 in a member name: the strings were all valid.
        if String(validating: bytes, as: UTF8.self) == nil {
            throw TSAPIError(.json, "is not valid UTF-8", offset: 0, isUnstorableText: true)
        }
    }

    /// Compact JSON text, members in their order.
    package var text: String {
        var writer = JSONWriter(capacity: 256)
        writer.tree(self)
        return writer.text
    }

    package static func == (lhs: JSONTree, rhs: JSONTree) -> Bool { lhs.text == rhs.text }

    /// This value with `patch` applied as RFC 7396 says: an object patch sets its members, recursively, and a
    /// `null` member removes one; any other patch replaces the whole value.
    package func merged(with patch: JSONTree) -> JSONTree {
        guard case .object(let changes) = patch else { return patch }
        var members: [(key: String, value: JSONTree)] = []
        if case .object(let existing) = self { members = existing }
        for change in changes {
            let index = members.firstIndex { $0.key == change.key }
            if case .null = change.value {
                if let index { members.remove(at: index) }
            } else if let index {
                members[index].value = members[index].value.merged(with: change.value)
            } else {
                members.append((change.key, JSONTree.object([]).merged(with: change.value)))
            }
        }
        return .object(members)
    }
}

/// For documents written with `JSONEncoder`. A number keeps its value: integers as integers, others as
/// `Decimal` (exact to 38 digits), rather than through `Double`.
extension JSONTree: Encodable {
    package func encode(to encoder: any Encoder) throws {
        switch self {
        case .object(let members):
            var c = encoder.container(keyedBy: MemberName.self)
            for member in members { try c.encode(member.value, forKey: MemberName(member.key)) }
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .string(let value):
            var c = encoder.singleValueContainer()
            try c.encode(value)
        case .number(let text):
            var c = encoder.singleValueContainer()
            if let integer = Int64(text) {
                try c.encode(integer)
            } else if let decimal = Decimal(string: text) {
                try c.encode(decimal)
            } else {
                try c.encode(Double(text) ?? 0)
            }
        case .bool(let value):
            var c = encoder.singleValueContainer()
            try c.encode(value)
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        }
    }
}

/// A member name known only at run time, for documents whose members are data (an application's JSON, a list
/// of fields).
package struct MemberName: CodingKey {
    package var stringValue: String
    package var intValue: Int? { nil }
    package init(_ name: String) { stringValue = name }
    package init(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) { nil }
}
