import Foundation
import TSAPI
import Testing

@Suite("UCID")
struct UCIDTests {
    /// Reference §3: binary 0x0019 0x0010 0x38F725B3 is node 25, seq 16, t 955721139 (2000-04-14T14:05:39Z).
    static let vectorBytes: [UInt8] = [0x00, 0x19, 0x00, 0x10, 0x38, 0xF7, 0x25, 0xB3]
    static let vectorText = "00025000160955721139"

    // MARK: ASCII form

    @Test func acceptsTwentyDigits() throws {
        let ucid = try #require(UCID(Self.vectorText))
        #expect(ucid.rawValue == Self.vectorText)
        #expect(ucid.description == Self.vectorText)
    }

    @Test func acceptsASubstring() throws {
        let text = "ucid=00001000421700000000"
        let ucid = try #require(UCID(text.dropFirst(5)))
        #expect(ucid.rawValue == "00001000421700000000")
    }

    @Test(arguments: [
        "0002500016095572113",  // 19 digits
        "000250001609557211390",  // 21 digits
        "0002500016095572113a",
        "A0025000160955721139",
        "0002500016 095572113",
        " 0002500016095572113",
        "-0025000160955721139",
        "0002500016095572113\u{0669}",  // Arabic-Indic nine: a digit, but not ASCII
        "00000000000000000000",
        "",
    ])
    func rejectsMalformedOrNone(_ text: String) {
        #expect(UCID(text) == nil)
    }

    @Test func decodesItsParts() throws {
        let ucid = try #require(UCID(Self.vectorText))
        #expect(ucid.node == 25)
        #expect(ucid.sequence == 16)
        #expect(ucid.originationEpochSeconds == 955_721_139)
    }

    @Test func decodesTheReferenceExample() throws {
        // Reference §3: node 21, seq 5, t 946085673.
        let ucid = try #require(UCID("00021000050946085673"))
        #expect(ucid.node == 21)
        #expect(ucid.sequence == 5)
        #expect(ucid.originationEpochSeconds == 946_085_673)
    }

    @Test func initFromPartsPadsEachField() {
        #expect(UCID(node: 21, sequence: 5, time: 946_085_673).rawValue == "00021000050946085673")
        #expect(UCID(node: 1, sequence: 1, time: 1).rawValue == "00001000010000000001")
        #expect(UCID(node: 32767, sequence: 65535, time: 9_999_999_999).rawValue == "32767655359999999999")
        #expect(UCID(node: 25, sequence: 16, time: 955_721_139).rawValue == Self.vectorText)
    }

    @Test func initFromPartsRoundTripsThroughTheAccessors() {
        let ucid = UCID(node: 4242, sequence: 777, time: 1_795_168_801)
        #expect(ucid.rawValue.count == 20)
        #expect(ucid.node == 4242)
        #expect(ucid.sequence == 777)
        #expect(ucid.originationEpochSeconds == 1_795_168_801)
        #expect(UCID(ucid.rawValue) == ucid)
    }

    // MARK: Binary form

    @Test func binaryTestVectorGivesTheASCIIForm() throws {
        let ucid = try #require(UCID(binary: Self.vectorBytes))
        #expect(ucid.rawValue == Self.vectorText)
        #expect(ucid.node == 25)
        #expect(ucid.sequence == 16)
        #expect(ucid.originationEpochSeconds == 955_721_139)
    }

    @Test func asciiTestVectorGivesTheBinaryForm() throws {
        let ucid = try #require(UCID(Self.vectorText))
        #expect(ucid.binary == Self.vectorBytes)
    }

    @Test(
        arguments: [
            [0x00, 0x19, 0x00, 0x10, 0x38, 0xF7, 0x25, 0xB3],
            [0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01],
            [0x7F, 0xFF, 0xFF, 0xFF, 0x6A, 0xFD, 0x3C, 0x21],
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ] as [[UInt8]])
    func binaryRoundTrip(_ bytes: [UInt8]) throws {
        let ucid = try #require(UCID(binary: bytes))
        #expect(ucid.binary == bytes)
        #expect(UCID(ucid.rawValue) == ucid)
    }

    @Test func binaryMaximumsFitTheDecimalFields() throws {
        let ucid = try #require(UCID(binary: [UInt8](repeating: 0xFF, count: 8)))
        #expect(ucid.rawValue == "65535655354294967295")
    }

    @Test func binaryReadsASliceOfALargerBuffer() throws {
        // Shared UUI over SIP: 00 (discriminator) FA (UCID item) 08 (length) then the 8 bytes.
        let uui: [UInt8] = [0x00, 0xFA, 0x08] + Self.vectorBytes
        let ucid = try #require(UCID(binary: uui[3...]))
        #expect(ucid.rawValue == Self.vectorText)
    }

    @Test(
        arguments: [
            [],
            [0x00, 0x19, 0x00, 0x10, 0x38, 0xF7, 0x25],
            [0x00, 0x19, 0x00, 0x10, 0x38, 0xF7, 0x25, 0xB3, 0x00],
            [0, 0, 0, 0, 0, 0, 0, 0],
        ] as [[UInt8]])
    func binaryRejectsWrongLengthOrAllZeros(_ bytes: [UInt8]) {
        #expect(UCID(binary: bytes) == nil)
    }

    // MARK: Value semantics

    @Test func comparesByItsDigits() throws {
        let early = try #require(UCID("00001000010000000001"))
        let late = try #require(UCID("00001000020000000001"))
        #expect(early < late)
        #expect(!(late < early))
        #expect([late, early].sorted() == [early, late])
        #expect(Set([early, late, UCID(early.rawValue)!]).count == 2)
    }

    // MARK: Codable

    private struct Box: Codable, Equatable {
        var ucid: UCID
    }

    private struct OptionalBox: Codable {
        var ucid: UCID?
    }

    @Test func codableRoundTrip() throws {
        let box = Box(ucid: try #require(UCID(Self.vectorText)))
        let data = try JSONEncoder().encode(box)
        #expect(String(decoding: data, as: UTF8.self) == #"{"ucid":"00025000160955721139"}"#)
        #expect(try JSONDecoder().decode(Box.self, from: data) == box)
    }

    @Test(arguments: [
        #"{"ucid":"123"}"#,
        #"{"ucid":"00000000000000000000"}"#,
        #"{"ucid":""}"#,
        #"{"ucid":"0002500016095572113x"}"#,
    ])
    func decodingAnInvalidStringThrowsDataCorrupted(_ json: String) {
        let error = #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Box.self, from: Data(json.utf8))
        }
        guard case .dataCorrupted(_)? = error else {
            Issue.record("expected .dataCorrupted, got \(String(describing: error))")
            return
        }
    }

    @Test func decodingANumberThrows() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Box.self, from: Data(#"{"ucid":25000160955721139}"#.utf8))
        }
    }

    @Test func optionalUCIDDecodesNull() throws {
        let box = try JSONDecoder().decode(OptionalBox.self, from: Data(#"{"ucid":null}"#.utf8))
        #expect(box.ucid == nil)
    }
}
