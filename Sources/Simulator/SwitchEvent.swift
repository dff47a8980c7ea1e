import Foundation
import TSAPI

/// One switch event before AES reports it: when, what, and which monitors see it. A switch event reaches every
/// monitor that matches it as a separate envelope, each with that monitor's own view of its connection
/// (`localConnectionInfo`, reference §4.0).
public struct SwitchEvent: Sendable {
    public var time: Date
    /// Index of the site (AES link) that reports it.
    public var site: Int
    public var type: EventType
    /// The monitors that receive a copy, with the connection state each one reports.
    public var recipients: [(monitor: Int64, state: String)]
    /// The CSTA fields in TSAPI order, without `localConnectionInfo` and `cause`, which close the struct.
    public var csta: [(String, JSONValue)]
    public var cause: String
    public var att: JSONValue?
}

/// Turns switch events into ingest envelopes (architecture §2): one per monitor copy, numbered by a per-link
/// sequence in the order the link delivers them.
public struct LinkReporter: Sendable {
    public let sites: [SwitchSite]
    private var sequences: [Int64]

    public init(sites: [SwitchSite]) {
        self.sites = sites
        self.sequences = sites.map { _ in 0 }
    }

    /// The envelopes of one switch event, as JSON text.
    public mutating func report(_ event: SwitchEvent) -> [String] {
        let site = sites[event.site]
        let time = Timestamp.format(event.time)
        return event.recipients.map { recipient in
            sequences[event.site] += 1
            var csta = event.csta
            csta.append(("localConnectionInfo", .string(recipient.state)))
            csta.append(("cause", .string(event.cause)))
            var members: [(String, JSONValue)] = [
                ("source", .string(site.source)), ("switch", .string(site.name)), ("seq", .int(sequences[event.site])),
                ("time", .string(time)), ("monitor", .int(recipient.monitor)), ("type", .string(event.type.rawValue)),
                ("csta", .object(csta)),
            ]
            if let att = event.att { members.append(("att", att)) }
            return JSONValue.object(members).text
        }
    }
}
