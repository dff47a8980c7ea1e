import NIOCore

/// Cuts the byte stream of a DMCC connection into frames, and writes frames, for both ends of a link (CallTrail's
/// and the simulator's AES).
///
/// A header that cannot be read (a length shorter than the header, an invoke ID that is not four digits) leaves
/// no way to find the next frame: the decoder fails, and the channel closes with the reason.
package struct DMCCFrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = DMCCFrame

    package init() {}

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= DMCCFrame.headerLength,
            let headerBytes = buffer.getBytes(at: buffer.readerIndex, length: DMCCFrame.headerLength)
        else { return .needMoreData }
        let header = try DMCCFrame.header(headerBytes)
        guard buffer.readableBytes >= header.length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: DMCCFrame.headerLength)
        let body = buffer.readBytes(length: header.length - DMCCFrame.headerLength) ?? []
        context.fireChannelRead(wrapInboundOut(DMCCFrame(invokeID: header.invokeID, body: body)))
        return .continue
    }

    package mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw DMCCError(
                .malformedFrame, "the connection ended inside a frame (\(buffer.readableBytes) bytes of it received)")
        }
        return .needMoreData
    }
}

package struct DMCCFrameEncoder: MessageToByteEncoder {
    package typealias OutboundIn = DMCCFrame

    package init() {}

    package func encode(data frame: DMCCFrame, out: inout ByteBuffer) throws {
        out.writeBytes(try frame.encoded())
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// The DMCC frame codec, for a channel that then speaks in `DMCCFrame`s.
    package func addDMCCFrameCodec() throws {
        try addHandler(ByteToMessageHandler(DMCCFrameDecoder()))
        try addHandler(MessageToByteHandler(DMCCFrameEncoder()))
    }
}
