import Foundation

/// Turns a `POST /v1/events` body into events: one JSON object, a JSON array of objects, or NDJSON (any run of
/// objects separated by white space, which covers `application/x-ndjson`).
///
/// It validates the envelope and stops at the first invalid event, because a batch is all
/// or nothing. Inside `csta` and `att` it only reads what routes the event and never rejects a shape it did
/// not expect.
package enum IngestBatchParser {
    /// Ids CallTrail gives its own link records; a client's event may not take one.
    package static let reservedIDPrefix = "calltrail-link-"
    /// Ids of the user-data service's events.
    package static let userDataIDPrefix = "calltrail-userdata-"
    /// Ids of access control's events (tokens made and revoked, refusals).
    package static let accessIDPrefix = "calltrail-access-"
    static let reservedIDPrefixes = [reservedIDPrefix, userDataIDPrefix, accessIDPrefix]
    /// The longest `id`, `source`, `switch` or `type`, in bytes: names and keys, never payloads.
    package static let maxFieldBytes = 256

    /// `ndjson`: the client said `application/x-ndjson`, one event object per line, so an array is refused
    /// rather than read as a batch the client did not say it sent.
    package static func parse(
        _ body: UnsafeRawBufferPointer, ndjson: Bool = false
    ) throws(TSAPIError) -> [IncomingEvent] {
        var scanner = JSONScanner(body)
        scanner.skipWhitespace()
        guard !scanner.isAtEnd else {
            throw TSAPIError.batch(
                message: "the body is empty: send an event object, an array or NDJSON", index: nil, field: nil)
        }
        var events: [IncomingEvent] = []
        if scanner.peek == UInt8(ascii: "["), ndjson {
            throw TSAPIError.batch(
                message: "NDJSON holds one event object per line; send an array as application/json", index: 0,
                field: nil)
        }
        if scanner.peek == UInt8(ascii: "[") {
            scanner.skipValueStart()
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: "]") {
                scanner.skipValueStart()
            } else {
                while true {
                    events.append(try parseEvent(&scanner, index: events.count))
                    scanner.skipWhitespace()
                    guard let next = scanner.peek else {
                        throw TSAPIError.batch(
                            message: "the array is not closed with ']'", index: events.count - 1, field: nil)
                    }
                    scanner.skipValueStart()
                    if next == UInt8(ascii: "]") { break }
                    guard next == UInt8(ascii: ",") else {
                        throw TSAPIError.batch(
                            message:
                                "expected ',' or ']' after event \(events.count - 1) at byte \(scanner.offset - 1)",
                            index: events.count, field: nil)
                    }
                }
            }
            scanner.skipWhitespace()
            guard scanner.isAtEnd else {
                throw TSAPIError.batch(
                    message: "unexpected content after the array at byte \(scanner.offset)", index: nil, field: nil)
            }
            return events
        }
        while !scanner.isAtEnd {
            events.append(try parseEvent(&scanner, index: events.count))
            scanner.skipWhitespace()
        }
        return events
    }

    /// Convenience for tests and tools holding bytes or a string.
    package static func parse(_ body: some Sequence<UInt8>) throws(TSAPIError) -> [IncomingEvent] {
        let bytes = Array(body)
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(TSAPIError) -> [IncomingEvent] in try parse(buffer) }
        }
        return try result.get()
    }

    private static func parseEvent(_ scanner: inout JSONScanner, index: Int) throws(TSAPIError) -> IncomingEvent {
        scanner.skipWhitespace()
        let start = scanner.offset
        guard scanner.peek == UInt8(ascii: "{") else {
            // Skip the value so the message can say what it was.
            let kind = scanner.kindOfNext()
            throw TSAPIError.batch(
                message: "event \(index) is not a JSON object (found \(kind.description))", index: index, field: nil)
        }
        scanner.skipValueStart()
        var id: String?
        var source: String?
        var switchName: String?
        var seq: Int64?
        var seqPresent = false
        var timeText: String?
        var monitor: Int64?
        var type: String?
        var ucid: UCID?
        var callIDs = CallIDs()
        var uninterpreted: [String] = []
        var badField: (field: String, message: String)?

        func note(_ field: String, _ message: String) {
            if badField == nil { badField = (field, message) }
        }
        /// A string of the envelope, stored in a column of its own: valid UTF-8, no NUL, at most `limit` bytes.
        func text(
            _ field: String, _ scanner: inout JSONScanner, limit: Int = Self.maxFieldBytes
        ) throws(JSONScanner.SyntaxError) -> String? {
            guard scanner.kindOfNext() == .string else {
                try scanner.skipValue()
                note(field, "\(field) must be a string")
                return nil
            }
            switch try scanner.readCheckedString() {
            case .failure(let problem):
                note(field, "\(field) \(problem.message)")
                return nil
            case .success(let value) where value.utf8.count > limit:
                note(field, "\(field) is longer than \(limit) bytes (\(value.utf8.count))")
                return nil
            case .success(let value):
                return value
            }
        }
        do {
            try scanner.forEachMember { (scanner: inout JSONScanner, key: JSONKey) throws(JSONScanner.SyntaxError) in
                switch key {
                case "id":
                    id = try text("id", &scanner)
                case "source":
                    source = try text("source", &scanner)
                case "switch":
                    switchName = try text("switch", &scanner)
                case "seq":
                    if scanner.kindOfNext() == .null { try scanner.skipValue(); break }
                    seqPresent = true
                    seq = try scanner.readLenientInteger()
                    if seq == nil || seq! < 0 { note("seq", "seq must be a whole number from 0") }
                case "time":
                    if scanner.kindOfNext() == .string {
                        timeText = try text("time", &scanner, limit: 64)
                    } else {
                        try scanner.skipValue()
                        note("time", "time must be an RFC 3339 string")
                    }
                case "monitor":
                    if scanner.kindOfNext() == .null { try scanner.skipValue(); break }
                    monitor = try scanner.readLenientInteger()
                    if monitor == nil { note("monitor", "monitor must be an integer monitorCrossRefID") }
                case "type":
                    type = try text("type", &scanner)
                case "att":
                    if scanner.kindOfNext() == .object {
                        ucid = try readATT(&scanner, uninterpreted: &uninterpreted)
                    } else {
                        if scanner.kindOfNext() != .null { uninterpreted.append("att") }
                        try scanner.skipValue()
                    }
                case "csta":
                    if scanner.kindOfNext() == .object {
                        callIDs = try readCSTA(&scanner, uninterpreted: &uninterpreted)
                    } else {
                        if scanner.kindOfNext() != .null { uninterpreted.append("csta") }
                        try scanner.skipValue()
                    }
                case "position", "ucid", "streamVersion", "storedAt", "unknownType":
                    // The names the read routes put before the event's own members: one sent here would be read
                    // back twice, with two values.
                    let name = key.string
                    note(name, "\(name) is reserved at an event's top level: CallTrail adds it when the event is read")
                    try scanner.skipValue()
                default:
                    try scanner.skipValue()
                }
            }
        } catch {
            throw TSAPIError.batch(
                message: "event \(index) is not valid JSON: \(error.message) at byte \(error.offset)", index: index,
                field: nil)
        }
        let rawBytes = UnsafeRawBufferPointer(rebasing: scanner.bytes[start..<scanner.offset])
        // Inside `csta` and `att` (and any member CallTrail does not read) text is never a reason to refuse an event:
        // bytes that are not UTF-8 are kept as the characters they would be in Latin-1 (`\u00e9` for 0xE9), the
        // usual cause, so the stored JSON is valid and no byte's value is lost; a `\u0000` escape is kept as written
        // (the stored JSON holds it; the read models show U+FFFD in its place).
        let raw = String(validating: rawBytes, as: UTF8.self) ?? JSONWriter.escapingInvalidUTF8(rawBytes)

        if let badField {
            throw TSAPIError.batch(message: "event \(index): \(badField.message)", index: index, field: badField.field)
        }
        guard let source, !source.isEmpty else {
            throw TSAPIError.batch(
                message: "event \(index) has no source (the AES link it came through)", index: index, field: "source")
        }
        guard let type, !type.isEmpty else {
            throw TSAPIError.batch(
                message: "event \(index) has no type (the TSAPI event name)", index: index, field: "type")
        }
        guard let timeText else {
            throw TSAPIError.batch(message: "event \(index) has no time", index: index, field: "time")
        }
        guard let time = Timestamp.parse(timeText) else {
            throw TSAPIError.batch(
                message: "event \(index): time \"\(timeText)\" is not RFC 3339 (e.g. 2026-11-20T10:00:01.250Z)",
                index: index, field: "time")
        }
        if let id, id.isEmpty {
            throw TSAPIError.batch(message: "event \(index): id must not be empty", index: index, field: "id")
        }
        guard id != nil || (seqPresent && seq != nil) else {
            throw TSAPIError.batch(
                message: "event \(index) has neither id nor seq: one is needed to make it idempotent", index: index,
                field: "seq")
        }
        let eventID = id ?? "\(source)-\(seq!)"
        if let reserved = Self.reservedIDPrefixes.first(where: { eventID.hasPrefix($0) }) {
            throw TSAPIError.batch(
                message:
                    "event \(index): ids starting with \(reserved) are CallTrail's own (its link and user-data records)",
                index: index, field: id == nil ? "source" : "id")
        }
        let eventType = EventType(rawValue: type).flatMap { $0.isCallTrailOwn ? nil : $0 }
        let fields = eventType.map { callIDs.interpret(for: $0) } ?? (nil, [], nil)
        return IncomingEvent(
            id: eventID, source: source, switchName: switchName ?? source, seq: seq, time: time,
            monitor: monitor, type: type, eventType: eventType, ucid: ucid, callID: fields.0, oldCallIDs: fields.1,
            resultingCallID: fields.2, uninterpretedFields: uninterpreted, rawJSON: raw)
    }

    /// Reads `att.ucid`; everything else in the private data is skipped (and syntax-checked).
    private static func readATT(
        _ scanner: inout JSONScanner, uninterpreted: inout [String]
    ) throws(JSONScanner.SyntaxError) -> UCID? {
        scanner.skipValueStart()
        var ucid: UCID?
        try scanner.forEachMember { (scanner: inout JSONScanner, key: JSONKey) throws(JSONScanner.SyntaxError) in
            guard key == "ucid" else { return try scanner.skipValue() }
            switch scanner.kindOfNext() {
            case .string:
                let text = try scanner.readString()
                ucid = UCID(text)
                // Empty and all-zero mean "no UCID"; anything else that is not 20 digits is a malformed field.
                if ucid == nil, !text.isEmpty, text.contains(where: { $0 != "0" }) { uninterpreted.append("att.ucid") }
            case .null:
                try scanner.skipValue()
            default:
                uninterpreted.append("att.ucid")
                try scanner.skipValue()
            }
        }
        return ucid
    }

    /// The callIDs found in `csta`, before we know which ones the event type makes meaningful.
    struct CallIDs {
        var byField: [String: Int64] = [:]
        var connectionLists: [String: [Int64]] = [:]

        func interpret(for type: EventType) -> (Int64?, [Int64], Int64?) {
            guard let field = type.connectionField else { return (nil, [], nil) }
            let own = byField[field].flatMap { $0 == 0 ? nil : $0 }
            guard let listField = type.connectionListField else { return (own, [], nil) }
            let old = [byField["primaryOldCall"], byField["secondaryOldCall"]].compactMap { $0 }.filter { $0 != 0 }
            let resulting = connectionLists[listField]?.first(where: { $0 != 0 })
            return (own ?? old.first, old, resulting ?? old.last)
        }
    }

    private static let connectionFields: [StaticString] = [
        "connection", "establishedConnection", "droppedConnection", "clearedCall", "heldConnection",
        "retrievedConnection", "failedConnection", "queuedConnection", "originatedConnection", "initiatedConnection",
        "primaryOldCall", "secondaryOldCall",
    ]

    private static func readCSTA(
        _ scanner: inout JSONScanner, uninterpreted: inout [String]
    ) throws(JSONScanner.SyntaxError) -> CallIDs {
        scanner.skipValueStart()
        var ids = CallIDs()
        try scanner.forEachMember { (scanner: inout JSONScanner, key: JSONKey) throws(JSONScanner.SyntaxError) in
            if connectionFields.contains(where: { key == $0 }) {
                if let callID = try readConnectionCallID(&scanner) {
                    ids.byField[key.string] = callID
                } else {
                    uninterpreted.append("csta.\(key.string)")
                }
            } else if key == "transferredConnections" || key == "conferenceConnections" {
                if let list = try readConnectionList(&scanner) {
                    ids.connectionLists[key.string] = list
                } else {
                    uninterpreted.append("csta.\(key.string)")
                }
            } else {
                try scanner.skipValue()
            }
        }
        return ids
    }

    /// Reads `{callID, deviceID, devIDType}` (or a Connection_t's `party`) and returns its callID.
    private static func readConnectionCallID(_ scanner: inout JSONScanner) throws(JSONScanner.SyntaxError) -> Int64? {
        guard scanner.kindOfNext() == .object else {
            try scanner.skipValue()
            return nil
        }
        scanner.skipValueStart()
        var callID: Int64?
        try scanner.forEachMember { (scanner: inout JSONScanner, key: JSONKey) throws(JSONScanner.SyntaxError) in
            switch key {
            case "callID": callID = try scanner.readLenientInteger()
            case "party":
                if callID == nil { callID = try readConnectionCallID(&scanner) } else { try scanner.skipValue() }
            default: try scanner.skipValue()
            }
        }
        return callID
    }

    /// A connection list as a plain array or as TSAPI's `{count, connection: [...]}` struct.
    private static func readConnectionList(_ scanner: inout JSONScanner) throws(JSONScanner.SyntaxError) -> [Int64]? {
        switch scanner.kindOfNext() {
        case .array:
            scanner.skipValueStart()
            var ids: [Int64] = []
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: "]") { scanner.skipValueStart(); return ids }
            while true {
                if let id = try readConnectionCallID(&scanner) { ids.append(id) }
                scanner.skipWhitespace()
                guard let next = scanner.peek else { throw scanner.error("expected ',' or ']'") }
                scanner.skipValueStart()
                if next == UInt8(ascii: "]") { return ids }
                guard next == UInt8(ascii: ",") else { throw scanner.error("expected ',' or ']'") }
            }
        case .object:
            scanner.skipValueStart()
            var ids: [Int64]?
            try scanner.forEachMember { (scanner: inout JSONScanner, _: JSONKey) throws(JSONScanner.SyntaxError) in
                if scanner.kindOfNext() == .array, ids == nil {
                    ids = try readConnectionList(&scanner)
                } else {
                    try scanner.skipValue()
                }
            }
            return ids
        default:
            try scanner.skipValue()
            return nil
        }
    }
}

extension JSONScanner {
    /// Consumes the single structural byte at the current position (`{`, `[`, `,`, `]`).
    mutating func skipValueStart() {
        skipWhitespace()
        if !isAtEnd { advance(by: 1) }
    }
}

extension JSONScanner.Kind: CustomStringConvertible {
    var description: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        case .invalid: "invalid JSON"
        }
    }
}
