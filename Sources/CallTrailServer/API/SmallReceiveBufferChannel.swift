import HummingbirdCore
import Logging
import NIOCore

/// The server's connections, each starting with a receive buffer of `initialReceiveBytes` instead of NIO's 2 KB.
///
/// NIO keeps one pooled receive buffer per connection for as long as the connection is open, sized by the adaptive
/// allocator from its last reads. An idle feed subscriber reads its upgrade request and then nothing for hours, so
/// with 5,000 of them NIO's initial 2,048 bytes were about 10 MB. The adaptive allocator still doubles the buffer
/// (up to 64 KB) whenever a read fills it, so a connection that posts events reads as it did before.
struct SmallReceiveBufferChannel<Base: ServerChildChannel>: ServerChildChannel {
    let base: Base
    var initialReceiveBytes = 512

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Base.Value> {
        do {
            try channel.syncOptions?.setOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: initialReceiveBytes, maximum: 65_536))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
