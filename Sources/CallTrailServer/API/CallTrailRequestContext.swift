import Hummingbird
import HummingbirdCore
import NIOCore

/// The context of every request: Hummingbird's own, the client's address, and who access control found the caller
/// to be (set by `AccessMiddleware` before any route runs).
package struct CallTrailRequestContext: RequestContext, CallerRequestContext {
    package var coreContext: CoreRequestContextStorage
    package let remoteAddress: SocketAddress?
    package var caller: Caller = .open

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// A request context that knows its caller: what the routes that record `by` (user data) need of it.
package protocol CallerRequestContext: RequestContext {
    var remoteAddress: SocketAddress? { get }
    var caller: Caller { get set }
}
