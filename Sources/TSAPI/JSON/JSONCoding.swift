import Foundation

/// How CallTrail writes every document that is not on an event-speed path: `Codable`, through one configured
/// `JSONEncoder`. Keys are sorted, so a document is the same text from one process to the next (Foundation's
/// encoder otherwise orders members by a hash that changes per process), which makes responses easy to read
/// and to diff. Event-speed documents use `JSONWriter`.
package enum JSONCoding {
    /// A new encoder with CallTrail's settings (an encoder is cheap, and not meant to be shared across tasks).
    package static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// `value` as compact JSON bytes.
    package static func data(_ value: some Encodable) throws -> Data {
        try encoder().encode(value)
    }

    /// `value` as compact JSON text.
    package static func text(_ value: some Encodable) throws -> String {
        String(decoding: try data(value), as: UTF8.self)
    }
}
