import HTTPTypes

/// Which scope each route needs (docs/access.md): `nil` for the ones that stay open.
enum AccessPolicy {
    static func scope(method: HTTPRequest.Method, path: String, metricsOpen: Bool) -> Scope? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        let reading = method == .get || method == .head
        switch parts.first {
        case "health", "openapi.yaml": return parts.count == 1 ? nil : .admin
        case "ready", "metrics": return parts.count == 1 && metricsOpen ? nil : .admin
        case "v1": break
        default: return .admin
        }
        switch parts.dropFirst().first {
        case "events": return reading ? .eventsRead : .eventsWrite
        case "calls":
            // /v1/calls/{ucid}/events and /v1/calls/{ucid}/userdata belong to the log and to user data.
            if parts.count == 4, parts[3] == "events" { return .eventsRead }
            if parts.count == 4, parts[3] == "userdata" { return reading ? .userdataRead : .userdataWrite }
            return .callsRead
        case "journeys": return .journeysRead
        case "userdata": return reading ? .userdataRead : .userdataWrite
        case "feed": return .feed
        default: return .admin  // links, projections, tokens, and whatever is not a route (a 404 after the check)
        }
    }
}
