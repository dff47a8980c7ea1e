import Foundation
import TSAPI

/// One switch event before AES reports it: when, what, and which monitors see it. A switch event reaches every
/// monitor that matches it as a separate envelope, each with that monitor's own view of its connection
/// (`localConnectionInfo`).
package struct SwitchEvent: Sendable {
    package var time: Date
    /// Index of the site (AES link) that reports it.
    package var site: Int
    package var type: EventType
    /// The monitors that receive a copy, with the connection state each one reports.
    package var recipients: [(monitor: Int64, state: String)]
    /// The CSTA fields in TSAPI order, without `localConnectionInfo` and `cause`, which close the struct.
    package var csta: [(key: String, value: JSONTree)]
    package var cause: String
    package var att: JSONTree?
}

/// Turns switch events into ingest envelopes (the ingest envelope, docs/api.md): one per monitor copy, numbered by a per-link
/// sequence in the order the link delivers them.
package struct LinkReporter: Sendable {
    package let sites: [SwitchSite]
    private var sequences: [Int64]

    package init(sites: [SwitchSite]) {
        self.sites = sites
        self.sequences = sites.map { _ in 0 }
    }

    /// The envelopes of one switch event, as JSON text: the parts every monitor copy shares are written once.
    package mutating func report(_ event: SwitchEvent) -> [String] {
        let site = sites[event.site]
        let head = "{\"source\":\(JSONWriter.quote(site.source)),\"switch\":\(JSONWriter.quote(site.name)),\"seq\":"
        let time = ",\"time\":\"\(Timestamp.format(event.time))\",\"monitor\":"
        var csta = JSONTree.object(event.csta).text
        csta.removeLast()  // reopen the object for the per-monitor state and the cause
        let cause = ",\"cause\":\(JSONWriter.quote(event.cause))}"
        let att = event.att.map { ",\"att\":" + $0.text } ?? ""
        let type = ",\"type\":\"\(event.type.rawValue)\",\"csta\":"
        return event.recipients.map { recipient in
            sequences[event.site] += 1
            let separator = event.csta.isEmpty ? "" : ","
            return head + String(sequences[event.site]) + time + String(recipient.monitor) + type + csta + separator
                + "\"localConnectionInfo\":\(JSONWriter.quote(recipient.state))" + cause + att + "}"
        }
    }
}
