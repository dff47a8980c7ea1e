/// Every error the DMCC module throws: a frame or a message that is not what the protocol says, or an answer of
/// AES that refuses what was asked. One type, with a `code` for what went wrong and AES's own error when there is
/// one, so the link can say exactly why it is down or why a device is not monitored.
package struct DMCCError: Error, Equatable, Sendable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        /// A frame whose header cannot be read (a length shorter than the header, past the largest frame, an
        /// invoke ID that is not four digits).
        case malformedFrame
        /// A body that is not one XML document.
        case malformedXML
        /// XML that is not the message expected there (a response without its session ID, ...).
        case unexpectedMessage
        /// AES refused a request: `aesError` is its error (`invalidApplicationInfo`, `invalidDeviceID`, ...).
        case refused
        /// AES did not answer within the bound.
        case timeout
        /// The connection closed.
        case closed
    }

    package var code: Code
    package var message: String
    /// AES's own name for the error, from a negative response or a `CSTAErrorCode`.
    package var aesError: String?

    package init(_ code: Code, _ message: String, aesError: String? = nil) {
        self.code = code
        self.message = message
        self.aesError = aesError
    }

    package var description: String { message }
}
