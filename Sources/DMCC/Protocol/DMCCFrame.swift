/// One DMCC message on the wire: an 8-byte header and one XML document.
///
/// The header is a version (two bytes, 0), the frame's length **including** the header (two bytes, big-endian),
/// and the invoke ID as four ASCII digits (`0042`). A request and its answer share an invoke ID; AES sends its
/// events with `9999`, so requests use 1 to 9998. The length field makes 65,535 bytes the largest frame.
package struct DMCCFrame: Sendable, Equatable {
    package var invokeID: Int
    /// The XML body as received or to be sent, prolog included.
    package var body: [UInt8]

    package init(invokeID: Int, body: [UInt8]) {
        self.invokeID = invokeID
        self.body = body
    }

    package init(invokeID: Int, xml: String) {
        self.init(invokeID: invokeID, body: Array(xml.utf8))
    }

    package static let headerLength = 8
    package static let maxLength = 65_535
    /// The invoke ID of events AES sends unasked.
    package static let eventInvokeID = 9_999

    package var isEvent: Bool { invokeID == Self.eventInvokeID }

    package var xml: String { String(decoding: body, as: UTF8.self) }

    /// The frame's bytes: header and body.
    package func encoded() throws(DMCCError) -> [UInt8] {
        let length = Self.headerLength + body.count
        guard length <= Self.maxLength else {
            throw DMCCError(.malformedFrame, "a message of \(body.count) bytes does not fit in one DMCC frame")
        }
        guard (0...9_999).contains(invokeID) else {
            throw DMCCError(.malformedFrame, "invoke ID \(invokeID) is not four digits")
        }
        var bytes: [UInt8] = [0, 0, UInt8(length >> 8), UInt8(length & 0xFF)]
        let digits = String(invokeID)
        bytes += Array(String(repeating: "0", count: 4 - digits.count).utf8) + Array(digits.utf8)
        return bytes + body
    }

    /// What a header says: the whole frame's length and the invoke ID.
    package struct Header: Sendable, Equatable {
        package var length: Int
        package var invokeID: Int

        package init(length: Int, invokeID: Int) {
            self.length = length
            self.invokeID = invokeID
        }
    }

    /// Reads a header from its 8 bytes; a length shorter than the header or an invoke ID that is not four ASCII
    /// digits is an error (the stream can no longer be trusted, so the link closes it).
    package static func header(_ bytes: some Collection<UInt8>) throws(DMCCError) -> Header {
        let header = Array(bytes.prefix(headerLength))
        guard header.count == headerLength else { throw DMCCError(.malformedFrame, "a header is 8 bytes") }
        let length = Int(header[2]) << 8 | Int(header[3])
        guard length >= headerLength else {
            throw DMCCError(.malformedFrame, "the header gives a length of \(length), shorter than the header itself")
        }
        var invokeID = 0
        for byte in header[4..<8] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw DMCCError(
                    .malformedFrame,
                    "the invoke ID is not four ASCII digits: \(String(decoding: header[4..<8], as: UTF8.self).debugDescription)"
                )
            }
            invokeID = invokeID * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return Header(length: length, invokeID: invokeID)
    }
}
