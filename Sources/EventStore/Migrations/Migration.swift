import Foundation

/// One numbered SQL file of `migrations/`: applied once, in order, and never edited once released.
public struct Migration: Sendable, Hashable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads `NNNN_name.sql` files from a folder, ordered by number.
    public static func load(from directory: URL) throws(MigrationError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw MigrationError(.folderUnreadable(directory.path))
        }
        var migrations: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            let stem = name.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationError(.badFileName(name))
            }
            guard let sql = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) else {
                throw MigrationError(.folderUnreadable(directory.appendingPathComponent(name).path))
            }
            if let clash = migrations.first(where: { $0.version == version }) {
                throw MigrationError(.duplicateVersion(version, clash.name, name))
            }
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        guard !migrations.isEmpty else {
            throw MigrationError(.folderUnreadable("\(directory.path) holds no NNNN_name.sql files"))
        }
        return migrations.sorted { $0.version < $1.version }
    }

    /// Where the migrations are: `CALLTRAIL_MIGRATIONS`, `./migrations`, or the folder next to this source tree
    /// (so `swift run` and `swift test` work from anywhere in a checkout).
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let path = environment["CALLTRAIL_MIGRATIONS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let local = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("migrations")
        if FileManager.default.fileExists(atPath: local.path) { return local }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("migrations")
    }
}

/// Why migrating failed; the message names the file.
public struct MigrationError: Error, CustomStringConvertible, Sendable {
    enum Reason: Sendable {
        case folderUnreadable(String)
        case badFileName(String)
        case duplicateVersion(Int, String, String)
        case changedAfterApply(String)
        case unknownApplied(Int, String)
        case statementFailed(String, Int, String)
    }

    let reason: Reason

    init(_ reason: Reason) { self.reason = reason }

    public var description: String {
        switch reason {
        case .folderUnreadable(let path): "cannot read migrations: \(path)"
        case .badFileName(let name): "migration file \(name) is not named NNNN_name.sql"
        case .duplicateVersion(let version, let first, let second):
            "migrations \(first) and \(second) share number \(version)"
        case .changedAfterApply(let name):
            "migration \(name) was changed after it was applied; released migrations are never edited: add a new file instead"
        case .unknownApplied(let version, let name):
            "the database has migration \(version) (\(name)) which this build does not know: it is newer than this CallTrail"
        case .statementFailed(let name, let index, let message): "migration \(name), statement \(index + 1): \(message)"
        }
    }
}
