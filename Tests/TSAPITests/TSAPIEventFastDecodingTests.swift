import Foundation
import Testing

@testable import TSAPI

/// `TSAPIEvent(json:)` (what projections use) must read every event exactly as the `Decodable` conformance does.
struct TSAPIEventFastDecodingTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/scenarios")

    func both(_ json: String) throws -> (fast: TSAPIEvent, codable: TSAPIEvent) {
        let codable = try JSONDecoder().decode(TSAPIEvent.self, from: Data(json.utf8))
        let fast = try Array(json.utf8).withUnsafeBytes { bytes in try TSAPIEvent(json: bytes) }
        return (fast, codable)
    }

    @Test func everyFixtureEventDecodesTheSame() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter {
            $0.hasSuffix(".ndjson")
        }
        var count = 0
        for file in files {
            let text = try String(contentsOf: Self.fixtures.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where !line.isEmpty {
                let (fast, codable) = try both(String(line))
                #expect(fast == codable, "\(file): \(line.prefix(120))")
                count += 1
            }
        }
        #expect(count > 250)
    }

    /// Shapes that real links and serialisers produce, and shapes that are simply wrong.
    @Test(arguments: [
        #"{"source":"a","time":"2026-11-20T10:00:00Z","type":"CSTA_DELIVERED","seq":"7","monitor":"101","csta":{"connection":{"callID":"1001","deviceID":{"deviceID":"5001"}},"alertingDevice":{"deviceIDStatus":"ID_NOT_KNOWN"},"callingDevice":17,"cause":22},"att":{"userInfo":{"type":"UUI_USER_SPECIFIC","data":{"length":2,"value":"C1A2"}},"split":{"deviceID":"3001"},"ucid":12345,"trunkGroup":5,"lookaheadInfo":{"hours":"1","minutes":2,"sourceVDN":"7001"}}}"#,
        #"{"source":"a","time":"2026-11-20T10:00:00.5+01:00","type":"CSTA_TRANSFERRED","csta":{"primaryOldCall":{"callID":1},"secondaryOldCall":"x","transferredConnections":[{"callID":2,"deviceID":"T2#1","devIDType":"DYNAMIC_ID"},{"party":{"callID":2,"deviceID":"5002"},"staticDevice":"5002"},7]},"att":{"originalCallInfo":{"reason":3,"userInfo":{"type":"UUI_IA5_ASCII"},"deviceHistory":{"count":1,"list":[{"olddeviceID":"5001","cause":"EC_TRANSFER"}]}},"trunkList":{"count":0}}}"#,
        #"{"source":"a","time":"2026-11-20T10:00:00Z","type":"CSTA_CONFERENCED","csta":{"conferenceConnections":{"count":2,"connection":{"count":2,"items":[{"party":{"callID":3,"deviceID":"5003"}}]}}},"att":"broken"}"#,
        #"{"source":"a","time":"2026-11-20T10:00:00Z","type":"CSTA_QUEUED","csta":{"queuedConnection":{"callID":1001,"deviceID":"3001"},"numberQueued":"4","queue":["3001"]},"att":null}"#,
        #"{"source":"a","time":"2026-11-20T10:00:00Z","type":"CSTA_NEW_KIND","csta":{"connection":{"callID":1}}}"#,
        #"{"source":"a","switch":"cm9","id":"x-1","time":"2026-11-20T10:00:00Z","type":"CSTA_HELD","csta":null}"#,
        #"{"source":"a","time":"2026-11-20T10:00:00Z","type":"CSTA_CALL_CLEARED","csta":"none","att":{"reason":"AR_NONE","deviceHistory":"none"}}"#,
    ])
    func oddShapesDecodeTheSame(_ json: String) throws {
        let (fast, codable) = try both(json)
        #expect(fast == codable)
    }

    @Test(arguments: [
        #"{"time":"2026-11-20T10:00:00Z","type":"CSTA_HELD"}"#,
        #"{"source":"a","time":"yesterday","type":"CSTA_HELD"}"#,
        #"{"source":"a","time":"2026-11-20T10:00:00Z","type":"CSTA_HELD","id":5}"#,
        #"{"source":"a","time":"2026-11-20T10:00:00Z","type":"CSTA_HELD""#,
        #"[1,2]"#,
    ])
    func whatCodableRefusesIsRefused(_ json: String) {
        #expect(throws: (any Error).self) { try JSONDecoder().decode(TSAPIEvent.self, from: Data(json.utf8)) }
        #expect(throws: TSAPIError.self) {
            try Array(json.utf8).withUnsafeBytes { bytes in try TSAPIEvent(json: bytes) }
        }
    }
}
