import Foundation
import Synchronization
import TSAPI

/// What `GET /v1/links` says of one link: where it is connected, whether its session and monitors are up, what
/// AES refused, why it is not up, and how much it has received. Passwords never appear.
package struct LinkStatus: Sendable, Codable, Equatable {
    package enum State: String, Sendable, Codable {
        /// A session is being made, or retried.
        case connecting
        /// The session and every monitor AES accepted are up.
        case up
        /// Not up: a refused login waiting for its retry, or stopped.
        case down
    }

    package struct Device: Sendable, Codable, Equatable {
        package var `extension`: String
        package var kind: String
        package var monitorCrossRefID: String?
        /// AES's error, for a device it refused.
        package var error: String?
    }

    package struct Problem: Sendable, Codable, Equatable {
        package var message: String
        package var aesError: String?
        package var at: String
    }

    package var name: String
    package var state: State
    /// `primary` (or `standby`, once the link can fail over).
    package var active: String
    package var url: String
    package var sessionID: String?
    /// Since when the link has been in its state.
    package var since: String
    package var monitored: [Device]
    package var failed: [Device]
    /// The last thing that went wrong, kept once the link is up again: why it last went down.
    package var lastError: Problem?
    package var eventsReceived: Int
    package var lastEventAt: String?
    package var reconnects: Int
    /// The process that owns the link (holds its AES session): this one, or, when several share the database,
    /// another, whose last report this is. Nil until known.
    package var owner: Owner?

    package struct Owner: Sendable, Codable, Equatable {
        package var host: String
        package var pid: Int
    }

    private enum Keys: String, CodingKey {
        case name, state, active, url, sessionID, since, monitored, failed, lastError, eventsReceived, lastEventAt
        case reconnects, owner
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        name = try c.decode(String.self, forKey: .name)
        state = try c.decode(State.self, forKey: .state)
        active = try c.decode(String.self, forKey: .active)
        url = try c.decode(String.self, forKey: .url)
        sessionID = try c.decodeIfPresent(String.self, forKey: .sessionID)
        since = try c.decode(String.self, forKey: .since)
        monitored = try c.decode([Device].self, forKey: .monitored)
        failed = try c.decode([Device].self, forKey: .failed)
        lastError = try c.decodeIfPresent(Problem.self, forKey: .lastError)
        eventsReceived = try c.decode(Int.self, forKey: .eventsReceived)
        lastEventAt = try c.decodeIfPresent(String.self, forKey: .lastEventAt)
        reconnects = try c.decode(Int.self, forKey: .reconnects)
        owner = try c.decodeIfPresent(Owner.self, forKey: .owner)
    }

    init(
        name: String, state: State, active: String, url: String, sessionID: String?, since: String,
        monitored: [Device], failed: [Device], lastError: Problem?, eventsReceived: Int, lastEventAt: String?,
        reconnects: Int
    ) {
        self.name = name
        self.state = state
        self.active = active
        self.url = url
        self.sessionID = sessionID
        self.since = since
        self.monitored = monitored
        self.failed = failed
        self.lastError = lastError
        self.eventsReceived = eventsReceived
        self.lastEventAt = lastEventAt
        self.reconnects = reconnects
    }

    /// Every member present, `null` when not known, so a client reads the same members of every link.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(name, forKey: .name)
        try c.encode(state, forKey: .state)
        try c.encode(active, forKey: .active)
        try c.encode(url, forKey: .url)
        try c.encode(sessionID, forKey: .sessionID)
        try c.encode(since, forKey: .since)
        try c.encode(monitored, forKey: .monitored)
        try c.encode(failed, forKey: .failed)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(eventsReceived, forKey: .eventsReceived)
        try c.encode(lastEventAt, forKey: .lastEventAt)
        try c.encode(reconnects, forKey: .reconnects)
        try c.encode(owner, forKey: .owner)
    }
}

extension LinkStatus.Device {
    private enum Keys: String, CodingKey { case `extension`, kind, monitorCrossRefID, error }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        `extension` = try c.decode(String.self, forKey: .extension)
        kind = try c.decode(String.self, forKey: .kind)
        monitorCrossRefID = try c.decodeIfPresent(String.self, forKey: .monitorCrossRefID)
        error = try c.decodeIfPresent(String.self, forKey: .error)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(`extension`, forKey: .extension)
        try c.encode(kind, forKey: .kind)
        if let error {
            try c.encode(error, forKey: .error)
        } else {
            try c.encode(monitorCrossRefID, forKey: .monitorCrossRefID)
        }
    }
}

/// The status of every link of this process, written by the links and read by `GET /v1/links`.
package final class LinkBoard: Sendable {
    private let links: Mutex<[String: LinkStatus]>
    private let order: [String]

    package init(_ configurations: [LinkConfiguration]) {
        order = configurations.map(\.name)
        let now = Timestamp.format(Date())
        links = Mutex(
            Dictionary(
                uniqueKeysWithValues: configurations.map {
                    (
                        $0.name,
                        LinkStatus(
                            name: $0.name, state: .connecting, active: "primary", url: $0.url.description,
                            sessionID: nil, since: now, monitored: [], failed: [], lastError: nil, eventsReceived: 0,
                            lastEventAt: nil, reconnects: 0)
                    )
                }))
    }

    package var all: [LinkStatus] {
        links.withLock { links in order.compactMap { links[$0] } }
    }

    package func status(_ name: String) -> LinkStatus? { links.withLock { $0[name] } }

    /// Puts another process's report of a link it owns in place of this one's.
    func mirror(_ status: LinkStatus) {
        links.withLock { links in
            guard links[status.name] != nil else { return }
            links[status.name] = status
        }
    }

    /// Changes one link's status; a change of state moves `since`.
    package func update(_ name: String, _ change: (inout LinkStatus) -> Void) {
        links.withLock { links in
            guard var status = links[name] else { return }
            let before = status.state
            change(&status)
            if status.state != before { status.since = Timestamp.format(Date()) }
            links[name] = status
        }
    }
}
