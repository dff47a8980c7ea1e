import ArgumentParser
import Foundation
import Logging
import WSClient

/// `calltrail feed`: a WebSocket subscriber that prints what `/v1/feed` sends, one JSON message per line, so the
/// feed can be watched (and scripted) without installing a WebSocket tool.
struct FeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Subscribe to a running CallTrail's feed and print each message as a line of JSON.",
        discussion: """
            Examples:
              calltrail feed --devices 5001,5002 --events offer,connect
              calltrail feed --after 0 --vdns 7001                 # replay from the start, then live
              calltrail feed --format ctisvr --send '{"id":1,"request":"startmonitor","extension":"5001"}'
            """)

    @Option(help: "CallTrail's base URL.")
    var url: String = "http://127.0.0.1:8080"

    @Option(help: "Devices the messages are for, comma-separated.")
    var devices: String?

    @Option(help: "Stations that answered the contact, comma-separated.")
    var agents: String?

    @Option(help: "VDNs, comma-separated.")
    var vdns: String?

    @Option(help: "Splits (skills), comma-separated.")
    var splits: String?

    @Option(help: "Event types: offer, connect, hold, retrieve, transfer, conference, disconnect.")
    var events: String?

    @Option(help: "Replay the messages after this feed position, then go on live.")
    var after: Int64?

    @Option(help: "native (CallTrail's JSON) or ctisvr (ctiSVR's event JSON and requests).")
    var format: String = "native"

    @Option(help: "A message to send once connected (a subscribe message, a ctiSVR request); may be repeated.")
    var send: [String] = []

    func run() async throws {
        var query: [String] = []
        for (name, value) in [
            ("devices", devices), ("agents", agents), ("vdns", vdns), ("splits", splits), ("events", events),
            ("after", after.map(String.init)), ("format", format),
        ] {
            if let value { query.append("\(name)=\(value)") }
        }
        let base = url.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(
            of: "https://", with: "wss://")
        let target =
            base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/v1/feed?" + query.joined(separator: "&")
        let messages = send
        var logger = Logger(label: "calltrail-feed")
        logger.logLevel = .warning
        let close = try await WebSocketClient.connect(url: target, logger: logger) { inbound, outbound, _ in
            for message in messages { try await outbound.write(.text(message)) }
            for try await message in inbound.messages(maxSize: 1 << 24) {
                // Straight to the file descriptor: a line is out as soon as it came, also into a pipe.
                if case .text(let text) = message { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
            }
        }
        if let close {
            FileHandle.standardError.write(Data("closed: \(close.closeCode) \(close.reason ?? "")\n".utf8))
        }
    }
}
