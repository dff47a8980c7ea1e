/// Every error the projections module throws, one type with a `code` for callers that act on the kind of failure
/// and a message in an operator's terms.
package struct ProjectionsError: Error, Sendable, CustomStringConvertible {
    package enum Code: Sendable, Equatable {
        /// A checkpoint row is missing: the database was not migrated by this CallTrail.
        case missingCheckpoint
        /// Another projector or a rebuild's swap moved the checkpoint under this one, which must reload its state.
        case checkpointMoved(expected: Int64, found: Int64)
        /// Another rebuild of the journey tables holds the lock.
        case rebuildRunning
        /// The projector's lock connection stopped delivering notifications: the lock may be gone with it.
        case lockLost
        /// A replace, merge or delete of user data that is not there.
        case nothingToChange
        /// The log returned no position for events it was asked to append.
        case unexpectedAppend
        /// The database is not in the shape CallTrail's migrations leave it.
        case schema
        /// No such user data, or it was deleted.
        case notFound
        /// The user data expired.
        case gone
        /// A new key clashed with one that exists.
        case conflict
        /// The projections have not reached the events a request depends on within its wait; nothing was done.
        case behind
        /// User data set by device, and the device has no call now.
        case noCallNow
    }

    package let code: Code
    package let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }

    /// The positions, when the checkpoint moved under the caller.
    package var checkpointMove: (expected: Int64, found: Int64)? {
        if case .checkpointMoved(let expected, let found) = code { (expected, found) } else { nil }
    }

    static func missingCheckpoint(_ name: String) -> ProjectionsError {
        ProjectionsError(.missingCheckpoint, "the projection checkpoint '\(name)' is missing: run calltrail migrate")
    }

    static func checkpointMoved(expected: Int64, found: Int64) -> ProjectionsError {
        ProjectionsError(
            .checkpointMoved(expected: expected, found: found),
            "the projection checkpoint moved from \(expected) to \(found) under this projector (another projector or a rebuild)"
        )
    }

    static let rebuildRunning = ProjectionsError(
        .rebuildRunning, "another rebuild of the journey tables is running; wait for it to finish")

    static let lockLost = ProjectionsError(.lockLost, "the projector's lock connection stopped listening")

    static func nothingToChange(_ id: String) -> ProjectionsError {
        ProjectionsError(.nothingToChange, "no user data \(id) to change")
    }

    static let unexpectedAppend = ProjectionsError(
        .unexpectedAppend, "the log returned no position for the user-data events")

    static func schema(_ message: String) -> ProjectionsError { ProjectionsError(.schema, message) }
}
