import EventStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOSSL
import NIOWebSocket
import TSAPI
import TestSupport
import Testing
import WSCore

/// A `calltrail serve` process at log level `trace`, over TLS, put through everything that carries a secret:
/// tokens made by the command and over HTTP, used in the header, the feed's query and its subprotocol, a wrong
/// one, a revoked one, user data with a customer's account number, and a `DATABASE_URL` with a password. Then
/// neither its log nor its metrics hold any of them, nor SQL, nor a file path.
struct AccessHygieneTests {
    @Test func theServerLogHoldsNoSecretAfterARunThatUsedThemAll() async throws {
        let executable = ProcessKillTests.executable
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "no calltrail executable")
        let folder = TLSTests.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let site = try TestAuthority(in: folder, name: "site")
        let server = try site.issue("localhost", server: true, file: "server")
        try await TestDatabase.with { database in
            var url = database.url
            let password = "pw-\(UUID().uuidString)"
            url.password = password  // the test server trusts its clients: any password is taken
            let migrations = ProcessKillTests.packageRoot.appendingPathComponent("migrations").path
            let databaseArguments = ["--database-url", url.urlString, "--migrations", migrations]

            // A token from the command, before the server starts.
            let command = Process()
            command.executableURL = executable
            command.arguments = ["tokens", "create", "--name", "ops", "--scope", "admin"] + databaseArguments
            let printed = Pipe()
            let complained = Pipe()
            command.standardOutput = printed
            command.standardError = complained
            try command.run()
            let output = await onThread { printed.fileHandleForReading.readDataToEndOfFile() }
            let complaints = await onThread { complained.fileHandleForReading.readDataToEndOfFile() }
            await command.exited()
            let admin = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(command.terminationStatus == 0 && admin.hasPrefix("ct_"), "\(admin)")
            // A command that worked warns of nothing (the pool's start-up race once printed a warning here).
            let stderr = String(decoding: complaints, as: UTF8.self)
            #expect(!stderr.contains("warning") && !stderr.contains("error"), "\(stderr)")

            let port = try freePort()
            let logFile = folder.appendingPathComponent("serve.log")
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            let log = try FileHandle(forWritingTo: logFile)
            let serve = Process()
            serve.executableURL = executable
            serve.arguments =
                [
                    "serve", "--port", "\(port)", "--log-level", "trace", "--tls-cert", server.certificate,
                    "--tls-key", server.key,
                ] + databaseArguments
            serve.standardOutput = log
            serve.standardError = log
            try serve.run()
            defer { if serve.isRunning { serve.terminate() } }

            var up = false
            for _ in 0..<600 where !up {
                up = await TLSTests.status(port: port, "/health", trusting: [site]) == .ok
                if !up { try await Task.sleep(for: .milliseconds(50)) }
            }
            try #require(up, "calltrail serve did not answer over TLS")

            let client = try TLSTests.client(port: port, trusting: [site])
            let writer = try await TLSTests.token(client, "crm-east", ["userdata:write", "userdata:read"], as: admin)
            let desk = try await TLSTests.token(client, "desk", ["feed"], as: admin)
            let account = "acct-\(UUID().uuidString)"
            let made = try await client.post(
                "/v1/userdata", headers: [.contentType: "application/json", .authorization: "Bearer \(writer)"],
                body: ByteBuffer(string: "{\"data\": {\"account\": \"\(account)\"}}"))
            #expect(made.head.status == .created)
            let wrong = "ct_" + String(repeating: "x", count: 43)
            #expect(
                try await client.get("/v1/events", headers: [.authorization: "Bearer \(wrong)"]).head.status
                    == .unauthorized)
            #expect(
                try await client.get("/v1/events", headers: [.authorization: "Bearer \(writer)"]).head.status
                    == .forbidden)

            let trust = try TLSTests.trust(site)
            let inQuery = try await FeedClient.connect(
                port: port, query: "devices=5001&access_token=\(desk)", tls: trust)
            let asProtocol = try await FeedClient.connect(
                port: port, query: "devices=5002", tls: trust,
                headers: [.secWebSocketProtocol: "bearer.\(desk), calltrail"])
            for feed in [inQuery, asProtocol] {
                _ = try await feed.waitFor { messages in messages.contains { $0["type"]?.string == "live" } }
            }
            let revoked = try await client.delete(
                "/v1/tokens/desk", headers: [.authorization: "Bearer \(admin)"], body: ByteBuffer())
            #expect(revoked.head.status == .ok)
            _ = try await inQuery.closed(within: .seconds(10))
            _ = try await asProtocol.closed(within: .seconds(10))
            #expect(
                try await client.get("/v1/feed?access_token=\(desk)", headers: [:]).head.status == .unauthorized)

            // The per-token read metrics name the token, never its secret.
            _ = try await client.get("/v1/userdata/nokey", headers: [.authorization: "Bearer \(writer)"])
            let metrics = try await client.get("/metrics", headers: [.authorization: "Bearer \(admin)"])
            let exposition = metrics.body.map { String(buffer: $0) } ?? ""
            #expect(
                exposition.contains(#"calltrail_token_reads_total{scope="userdata:read",token="crm-east"}"#)
                    || exposition.contains(#"calltrail_token_reads_total{token="crm-east",scope="userdata:read"}"#),
                "\(exposition.split(separator: "\n").filter { $0.contains("token_reads") })")
            try await client.shutdown()

            serve.interrupt()
            await serve.exited()
            try log.close()
            let text = try String(contentsOf: logFile, encoding: .utf8)
            #expect(text.contains("serving HTTPS and WSS"), "the log is the server's")
            /// The lines that hold `needle`, for the failure's message.
            func lines(holding needle: String) -> String {
                text.split(separator: "\n").filter { $0.contains(needle) }.prefix(3).joined(separator: "\n")
            }
            for (what, secret) in [
                ("the admin token", admin), ("a token made over HTTP", writer), ("the feed's token", desk),
                ("a wrong token", wrong), ("the database password", password), ("user data", account),
            ] {
                #expect(!text.contains(secret), "the log holds \(what): \(lines(holding: secret))")
                #expect(!exposition.contains(secret), "the metrics hold \(what)")
            }
            for sql in ["SELECT ", "INSERT INTO", "UPDATE api_tokens"] {
                #expect(!text.contains(sql), "the log holds SQL: \(lines(holding: sql))")
            }
            #expect(!text.contains(folder.path), "the log holds a file path: \(lines(holding: folder.path))")
            let root = ProcessKillTests.packageRoot.path
            #expect(!text.contains(root), "the log holds a file path: \(lines(holding: root))")
        }
    }
}
