import Foundation
import Logging
import PostgresNIO

/// What the links keep in PostgreSQL (migration 0010): the devices added and removed at run time, and each link's
/// owner with the status it last reported. Several CallTrail processes share one database; one of them owns each
/// link, by a session advisory lock the server frees when the owner's connection ends (its process died).
package struct PostgresLinkStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: - Run-time devices

    /// A device added (`monitored`) or removed at run time.
    package struct DeviceChange: Sendable, Equatable {
        package var `extension`: String
        package var kind: String
        package var monitored: Bool

        package init(extension: String, kind: String, monitored: Bool) {
            self.extension = `extension`
            self.kind = kind
            self.monitored = monitored
        }
    }

    /// The run-time changes of one link, in the order they were made.
    package func deviceChanges(link: String) async throws -> [DeviceChange] {
        var changes: [DeviceChange] = []
        let rows = try await client.query(
            """
            SELECT extension, kind, monitored FROM link_devices WHERE link = \(link) ORDER BY changed_at, extension
            """, logger: logger)
        for try await (number, kind, monitored) in rows.decode((String, String, Bool).self) {
            changes.append(DeviceChange(extension: number, kind: kind, monitored: monitored))
        }
        return changes
    }

    /// Records changes; the latest change of a device replaces its earlier one.
    package func record(_ changes: [DeviceChange], link: String) async throws {
        guard !changes.isEmpty else { return }
        try await client.query(
            """
            INSERT INTO link_devices (link, extension, kind, monitored)
            SELECT \(link), c.extension, c.kind, c.monitored
            FROM unnest(\(changes.map(\.extension))::text[], \(changes.map(\.kind))::text[],
                        \(changes.map(\.monitored))::boolean[]) AS c(extension, kind, monitored)
            ON CONFLICT (link, extension) DO UPDATE
            SET kind = EXCLUDED.kind, monitored = EXCLUDED.monitored, changed_at = now()
            """, logger: logger)
    }

    // MARK: - Owners

    /// The advisory lock key of a link: "CTLk" and 32 bits of the name's FNV-1a hash, apart from the other locks'.
    static func lockKey(_ link: String) -> Int64 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in link.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return Int64(0x4354_4C6B) << 32 | Int64(hash)
    }

    /// Takes the link's lock on a connection the caller keeps while it owns the link; false if another holds it.
    func tryLock(_ link: String, on connection: PostgresConnection) async throws -> Bool {
        for try await locked in try await connection.query(
            "SELECT pg_try_advisory_lock(\(Self.lockKey(link)))", logger: logger
        ).decode(Bool.self) {
            return locked
        }
        return false
    }

    func unlock(_ link: String, on connection: PostgresConnection) async throws {
        for try await _ in try await connection.query(
            "SELECT pg_advisory_unlock(\(Self.lockKey(link)))", logger: logger)
        {}
    }

    /// The owner's last report of a link.
    package struct OwnerRow: Sendable {
        package var host: String
        package var pid: Int
        /// `LinkStatus` as JSON, with `released: true` once its owner let it go on purpose (it stopped).
        package var status: String
        package var updatedAt: Date
    }

    package func owner(link: String) async throws -> OwnerRow? {
        let rows = try await client.query(
            "SELECT host, pid, status::text, updated_at FROM link_owners WHERE link = \(link)", logger: logger)
        for try await (host, pid, status, updatedAt) in rows.decode((String, Int32, String, Date).self) {
            return OwnerRow(host: host, pid: Int(pid), status: status, updatedAt: updatedAt)
        }
        return nil
    }

    /// Writes the owner's report on the lock's own connection: only the owner writes, and a write that fails with
    /// the connection tells the owner it may no longer be one.
    func report(link: String, host: String, pid: Int, status: String, on connection: PostgresConnection) async throws {
        // The rows are read to the end (none): a connection's next query waits for the last one's.
        for try await _ in try await connection.query(
            """
            INSERT INTO link_owners (link, host, pid, status) VALUES (\(link), \(host), \(Int32(pid)), \(status)::jsonb)
            ON CONFLICT (link) DO UPDATE
            SET host = EXCLUDED.host, pid = EXCLUDED.pid, status = EXCLUDED.status, updated_at = now()
            """, logger: logger)
        {}
    }
}
