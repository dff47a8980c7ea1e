/// The devices a link monitors: the links file's, plus those added at run time, minus those removed at run time
/// (`POST`/`DELETE /v1/links/{name}/devices`, kept in the database so they outlive a restart).
struct LinkDevices: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var `extension`: String
        /// `station` or `vdn`.
        var kind: String
    }

    /// In the order they are monitored: the file's first, then those added.
    private(set) var entries: [Entry] {
        didSet { index() }
    }
    /// The extensions of each kind, kept beside `entries`: the mapping of every event reads them.
    private(set) var stations: Set<String> = []
    private(set) var vdns: Set<String> = []

    init(_ configuration: LinkConfiguration) {
        entries =
            configuration.stations.map { Entry(extension: $0, kind: "station") }
            + configuration.vdns.map { Entry(extension: $0, kind: "vdn") }
        index()
    }

    private mutating func index() {
        stations = Set(entries.filter { $0.kind == "station" }.map(\.extension))
        vdns = Set(entries.filter { $0.kind == "vdn" }.map(\.extension))
    }

    func contains(_ number: String) -> Bool { entries.contains { $0.extension == number } }

    /// One run-time change: an added device is monitored (as its new kind, if it had another), a removed one is not.
    mutating func apply(_ change: PostgresLinkStore.DeviceChange) {
        if change.monitored {
            if let index = entries.firstIndex(where: { $0.extension == change.extension }) {
                entries[index].kind = change.kind
            } else {
                entries.append(Entry(extension: change.extension, kind: change.kind))
            }
        } else {
            entries.removeAll { $0.extension == change.extension }
        }
    }
}
