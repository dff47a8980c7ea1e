import Foundation
import TSAPI

/// What one subscriber wants from the feed (docs/feed.md): each kind of filter left out matches everything;
/// a message must match every kind given, and any one value of each.
package struct FeedFilter: Sendable, Equatable {
    /// The device the message is for.
    package var devices: Set<String>?
    /// Stations that answered the contact: a supervisor follows an agent's calls onward, through the consulted
    /// agent's offer and after the transfer.
    package var agents: Set<String>?
    package var vdns: Set<String>?
    package var splits: Set<String>?
    package var events: Set<FeedMessage.Kind>?

    package init(
        devices: Set<String>? = nil, agents: Set<String>? = nil, vdns: Set<String>? = nil, splits: Set<String>? = nil,
        events: Set<FeedMessage.Kind>? = nil
    ) {
        self.devices = devices
        self.agents = agents
        self.vdns = vdns
        self.splits = splits
        self.events = events
    }

    package func matches(_ message: FeedMessage) -> Bool {
        if let events, !events.contains(message.kind) { return false }
        if let devices, !devices.contains(message.device) { return false }
        if let vdns, !(message.vdn.map(vdns.contains) ?? false) { return false }
        if let splits, !(message.split.map(splits.contains) ?? false) { return false }
        // The stations that answered the contact before this message, or the device itself.
        if let agents, !agents.contains(message.device) && !message.previousAgents.contains(where: agents.contains) {
            return false
        }
        return true
    }

    /// The names of a filter, as query parameters and as members of a `subscribe` message.
    package static let names = ["devices", "agents", "vdns", "splits", "events"]

    /// From values given as comma-separated text (`devices=5001,5002`); absent names are nil.
    package init(values: (String) -> [String]?) throws(CallModelError) {
        func set(_ name: String) -> Set<String>? {
            values(name).map { Set($0.filter { !$0.isEmpty }) }
        }
        self.init(devices: set("devices"), agents: set("agents"), vdns: set("vdns"), splits: set("splits"))
        if let names = set("events") {
            var kinds = Set<FeedMessage.Kind>()
            for name in names {
                guard let kind = FeedMessage.Kind(rawValue: name) else {
                    throw CallModelError.feedFilter(
                        field: "events",

                        "unknown event type \"\(name)\"; the feed has \(FeedMessage.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                kinds.insert(kind)
            }
            events = kinds
        }
    }

    /// From query parameters: `devices=5001,5002&events=offer,connect`.
    package init(query: (String) -> String?) throws(CallModelError) {
        try self.init(values: { name in
            query(name).map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        })
    }

    /// From the object of a `{"subscribe": {...}}` message: each member an array of strings, or one string with
    /// commas.
    package init(subscribe object: JSONTree) throws(CallModelError) {
        for name in Self.names {
            guard let value = object[name], value != .null else { continue }
            switch value {
            case .string: continue
            case .array(let items) where items.allSatisfy({ $0.string != nil }): continue
            default:
                throw CallModelError.feedFilter(
                    field: name, "\(name) must be an array of strings such as [\"5001\"]; got \(value.text)")
            }
        }
        try self.init(values: { name in
            switch object[name] {
            case .string(let text): text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            case .array(let items): items.compactMap(\.string)
            default: nil
            }
        })
    }
}
