/// Every error the call model throws: text from a client or from the store that the model cannot read. One type,
/// with a `code` for what was being read and the facts a client needs (the field at fault; for a ctiSVR request,
/// its `id` so the answer can still be matched), so each way in can answer in its own terms.
package struct CallModelError: Error, Equatable, Sendable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        /// A journey's stored state that does not read back.
        case storedState
        /// A stored user-data event the user-data projection cannot read.
        case userDataEvent
        /// A feed filter that cannot be read; `field` names the member.
        case feedFilter
        /// A ctiSVR request the feed cannot read.
        case ctiSvrRequest(CtiSvrProblem)
    }

    /// What is wrong with a ctiSVR request.
    package enum CtiSvrProblem: Sendable, Equatable {
        case notJSON
        case notAnObject
        case missingRequest
        /// A member of the wrong JSON type, named.
        case wrongType(field: String)
    }

    package var code: Code
    package var message: String
    /// The member at fault, when one is.
    package var field: String?
    /// For a ctiSVR request: the JSON text of its `id` when it could be read.
    package var id: String?

    package init(_ code: Code, _ message: String, field: String? = nil, id: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.id = id
    }

    package var description: String { message }

    /// For a ctiSVR request: what is wrong with it.
    package var ctiSvrProblem: CtiSvrProblem? {
        if case .ctiSvrRequest(let problem) = code { problem } else { nil }
    }

    package static func feedFilter(field: String?, _ message: String) -> CallModelError {
        CallModelError(.feedFilter, message, field: field)
    }
}
