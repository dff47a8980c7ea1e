/// What a token may do. A token holds one or more; `admin` holds every other one too.
package enum Scope: String, Sendable, CaseIterable, Codable {
    /// `POST /v1/events`: ingest.
    case eventsWrite = "events:write"
    /// The log and a call's events.
    case eventsRead = "events:read"
    /// Call contexts, and the calls at a device.
    case callsRead = "calls:read"
    /// Journeys: one, search, export.
    case journeysRead = "journeys:read"
    case userdataRead = "userdata:read"
    case userdataWrite = "userdata:write"
    /// The feed's WebSocket.
    case feed
    /// Links, projections, tokens, `/ready` and `/metrics`; and every other scope.
    case admin

    /// Whether a token with `scopes` may do what needs this scope.
    func isGranted(by scopes: Set<Scope>) -> Bool { scopes.contains(self) || scopes.contains(.admin) }
}
