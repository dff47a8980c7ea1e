/// Every error the TSAPI module throws: text that is not what it should be. One type, with a `code` for what was
/// being read and the facts a client needs to find the problem (the event's index in a batch, the field, the
/// byte offset), so the HTTP edge can answer with a status and a body that name it.
package struct TSAPIError: Error, Equatable, Sendable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        /// An ingest batch was refused: `index` names the first invalid event, `field` its field.
        case batch
        /// Text that is not one JSON value, or JSON whose text cannot be stored (`isUnstorableText`).
        case json
        /// Stored JSON that is not a TSAPI event.
        case event
        /// Text that is not a CallTrail user-data key.
        case userDataKey
    }

    package var code: Code
    package var message: String
    /// For `batch`: the 0-based position of the offending event; nil when the body as a whole is unreadable.
    package var index: Int?
    /// The field at fault, when one is (`time`, `data.customer.name`, `items[2]`).
    package var field: String?
    /// For `json`: the byte offset of the problem.
    package var offset: Int?
    /// For `json`: the JSON is well formed, but some text in it cannot be stored (not UTF-8, or `\u0000`).
    package var isUnstorableText = false

    package init(
        _ code: Code, _ message: String, index: Int? = nil, field: String? = nil, offset: Int? = nil,
        isUnstorableText: Bool = false
    ) {
        self.code = code
        self.message = message
        self.index = index
        self.field = field
        self.offset = offset
        self.isUnstorableText = isUnstorableText
    }

    /// A refused ingest batch.
    package static func batch(message: String, index: Int?, field: String?) -> TSAPIError {
        TSAPIError(.batch, message, index: index, field: field)
    }

    package var description: String {
        switch code {
        case .batch:
            guard let index else { return message }
            return message + " (event \(index)" + (field.map { ", field \($0)" } ?? "") + ")"
        case .json: return offset.map { "\(message) at byte \($0)" } ?? message
        case .event, .userDataKey: return message
        }
    }
}
