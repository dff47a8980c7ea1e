import Foundation

/// One numbered SQL file of `migrations/`: applied once, in order, and never edited once released.
package struct Migration: Sendable, Hashable {
    package var version: Int
    package var name: String
    package var sql: String

    package init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads `NNNN_name.sql` files from a folder, ordered by number.
    package static func load(from directory: URL) throws(EventStoreError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw EventStoreError.migration(.folderUnreadable(directory.path))
        }
        var migrations: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            let stem = name.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw EventStoreError.migration(.badFileName(name))
            }
            guard let sql = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) else {
                throw EventStoreError.migration(.folderUnreadable(directory.appendingPathComponent(name).path))
            }
            if let clash = migrations.first(where: { $0.version == version }) {
                throw EventStoreError.migration(.duplicateVersion(version, clash.name, name))
            }
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        guard !migrations.isEmpty else {
            throw EventStoreError.migration(.folderUnreadable("\(directory.path) holds no NNNN_name.sql files"))
        }
        return migrations.sorted { $0.version < $1.version }
    }

    /// Where the migrations are: `CALLTRAIL_MIGRATIONS`, `./migrations`, or the folder next to this source tree
    /// (so `swift run` and `swift test` work from anywhere in a checkout).
    package static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let path = environment["CALLTRAIL_MIGRATIONS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let local = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("migrations")
        if FileManager.default.fileExists(atPath: local.path) { return local }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("migrations")
    }
}
