import HTTPTypes
import Synchronization

/// The methods each route answers, so that a request with another method on a path that exists is a `405` with
/// `Allow` (what HTTP asks for, and what client generators and fuzzers expect) rather than a `404` saying the path
/// is not there. Filled once the router has every route.
final class RouteMethods: Sendable {
    private let routes = Mutex<[(parts: [Substring], method: HTTPRequest.Method)]>([])

    /// Every route as the router has it: its method and its path, with `:name` or `{name}` for a parameter.
    func set(_ routes: [(method: HTTPRequest.Method, path: String)]) {
        let parsed = routes.map { (parts: $0.path.split(separator: "/"), method: $0.method) }
        self.routes.withLock { $0 = parsed }
    }

    /// The methods the routes matching `path` answer, sorted; empty when no route has that path. HEAD is among
    /// them wherever GET is: the router answers it from the GET route.
    func allowed(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        var methods = routes.withLock { routes in
            Set(routes.filter { Self.matches($0.parts, segments) }.map(\.method.rawValue))
        }
        if methods.contains(HTTPRequest.Method.get.rawValue) { methods.insert(HTTPRequest.Method.head.rawValue) }
        return methods.sorted()
    }

    private static func matches(_ template: [Substring], _ segments: [Substring]) -> Bool {
        guard template.count == segments.count else { return false }
        return zip(template, segments).allSatisfy { part, segment in
            part.hasPrefix(":") || part.hasPrefix("{") || part == "*" || part == segment
        }
    }
}
