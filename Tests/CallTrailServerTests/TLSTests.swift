import CallTrailServer
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOSSL
import NIOWebSocket
import TSAPI
import TestSupport
import Testing
import WSCore

/// HTTPS and WSS on the API's port with certificates the test makes: the API and the feed over TLS, a new
/// certificate served after SIGHUP, and mutual TLS where the client's certificate is its credential.
@Suite(.serialized)
struct TLSTests {
    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("calltrail-tls-\(UUID().uuidString)")
    }

    /// A TLS client of the server at `port` that trusts `authorities`, presenting `certificate` if given.
    static func client(
        port: Int, trusting authorities: [TestAuthority], certificate: (certificate: String, key: String)? = nil
    ) throws -> TestClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(
            try authorities.flatMap { try NIOSSLCertificate.fromPEMFile($0.certificateFile) })
        if let certificate {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate.certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: certificate.key, format: .pem))
        }
        let client = TestClient(
            host: "localhost", port: port,
            configuration: .init(tlsConfiguration: tls, timeout: .seconds(5), serverName: "localhost"))
        client.connect()
        return client
    }

    /// The status of `GET path` over a new TLS connection, or nil when the handshake (or the request) failed.
    static func status(
        port: Int, _ path: String, trusting authorities: [TestAuthority],
        certificate: (certificate: String, key: String)? = nil, token: String? = nil
    ) async -> HTTPResponse.Status? {
        guard let client = try? client(port: port, trusting: authorities, certificate: certificate) else { return nil }
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let response = try? await client.get(path, headers: headers)
        try? await client.shutdown()
        return response?.head.status
    }

    static func json(_ response: TestClient.Response) -> [String: Any] {
        let text = response.body.map { String(buffer: $0) } ?? ""
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// Makes a token through `POST /v1/tokens` over `client`; returns its secret.
    static func token(
        _ client: TestClient, _ name: String, _ scopes: [String], as admin: String? = nil
    ) async throws
        -> String
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let admin { headers[.authorization] = "Bearer \(admin)" }
        let list = scopes.map { "\"\($0)\"" }.joined(separator: ",")
        let made = try await client.post(
            "/v1/tokens", headers: headers, body: ByteBuffer(string: "{\"name\": \"\(name)\", \"scopes\": [\(list)]}"))
        #expect(made.head.status == .created)
        return try #require(json(made)["token"] as? String)
    }

    static func trust(_ authority: TestAuthority) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(authority.certificateFile))
        return tls
    }

    @Test func theAPIAndTheFeedAreServedOverTLSOnOnePort() async throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let authority = try TestAuthority(in: folder, name: "site")
        let server = try authority.issue("localhost", server: true, file: "server")
        var arguments = TestArguments()
        arguments.tls = ServerTLS.Files(certificate: server.certificate, key: server.key)
        try await AppHarness.withApp(arguments) { plain, _ in
            let port = try #require(plain.port)
            // Plain HTTP on the TLS port gets no answer.
            let cleartext = try? await RawHTTP(port: port, timeout: 2).exchangeOffPool("GET", "/health", headers: [:])
            #expect(cleartext == nil || cleartext?.status != 200, "no answer in clear text on the TLS port")

            let client = try Self.client(port: port, trusting: [authority])
            let admin = try await Self.token(client, "ops", ["admin"])
            let desk = try await Self.token(client, "desk", ["feed"], as: admin)
            let events = try await client.get("/v1/events", headers: [.authorization: "Bearer \(admin)"])
            #expect(events.head.status == .ok)
            try await client.shutdown()

            // A client that does not trust the site's CA does not get through the handshake.
            let stranger = try TestAuthority(in: folder, name: "other")
            #expect(await Self.status(port: port, "/health", trusting: [stranger]) == nil)

            // The feed over WSS, its token as a subprotocol entry as a browser sends it.
            let feed = try await FeedClient.connect(
                port: port, query: "devices=5001", tls: try Self.trust(authority),
                headers: [.secWebSocketProtocol: "bearer.\(desk), calltrail"])
            let live = try await feed.waitFor { messages in messages.contains { $0["type"]?.string == "live" } }
            #expect(live.contains { $0["type"]?.string == "live" })
            #expect(try await feed.close()?.closeCode == .normalClosure)
        }
    }

    /// Certificates rotate: after SIGHUP, new connections get the certificate now in the files; a file that cannot
    /// be read keeps the one served.
    @Test func aNewCertificateIsServedAfterSIGHUP() async throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try TestAuthority(in: folder, name: "first")
        let second = try TestAuthority(in: folder, name: "second")
        let served = try first.issue("localhost", server: true, file: "server")
        var arguments = TestArguments()
        arguments.tls = ServerTLS.Files(certificate: served.certificate, key: served.key)
        try await AppHarness.withApp(arguments) { plain, _ in
            let port = try #require(plain.port)
            #expect(await Self.status(port: port, "/health", trusting: [first]) == .ok)
            #expect(await Self.status(port: port, "/health", trusting: [second]) == nil)

            // The new certificate, from another CA, written over the served files; then the signal.
            let next = try second.issue("localhost", server: true, file: "next")
            try FileManager.default.removeItem(atPath: served.certificate)
            try FileManager.default.removeItem(atPath: served.key)
            try FileManager.default.copyItem(atPath: next.certificate, toPath: served.certificate)
            try FileManager.default.copyItem(atPath: next.key, toPath: served.key)
            kill(getpid(), SIGHUP)
            var reloaded = false
            for _ in 0..<100 where !reloaded {
                reloaded = await Self.status(port: port, "/health", trusting: [second]) == .ok
                if !reloaded { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(reloaded, "the new certificate is served after SIGHUP")
            #expect(await Self.status(port: port, "/health", trusting: [first]) == nil)

            // A broken file: the reload fails and the certificate served stays.
            try "not a certificate".write(toFile: served.certificate, atomically: true, encoding: .utf8)
            kill(getpid(), SIGHUP)
            try await Task.sleep(for: .milliseconds(500))
            #expect(await Self.status(port: port, "/health", trusting: [second]) == .ok)
        }
    }

    /// Mutual TLS: only clients with a certificate the CA signed get through the handshake; with no token defined,
    /// the certificate is the credential, and a user-data change records its subject as `by`.
    @Test func mutualTLSAdmitsClientsByTheirCertificate() async throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let site = try TestAuthority(in: folder, name: "site")
        let clients = try TestAuthority(in: folder, name: "desktops")
        let stranger = try TestAuthority(in: folder, name: "stranger")
        let server = try site.issue("localhost", server: true, file: "server")
        let desk = try clients.issue("desk-12", server: false, file: "desk-12")
        let forged = try stranger.issue("desk-12", server: false, file: "forged")
        var arguments = TestArguments()
        arguments.hostname = "0.0.0.0"  // not loopback: without mutual TLS it would need a token to start
        arguments.tls = ServerTLS.Files(
            certificate: server.certificate, key: server.key, clientCA: clients.certificateFile)
        try await AppHarness.withApp(arguments) { plain, _ in
            let port = try #require(plain.port)
            #expect(await Self.status(port: port, "/health", trusting: [site]) == nil, "no client certificate")
            #expect(
                await Self.status(port: port, "/health", trusting: [site], certificate: forged) == nil,
                "a certificate another CA signed")
            #expect(await Self.status(port: port, "/v1/events", trusting: [site], certificate: desk) == .ok)

            let client = try Self.client(port: port, trusting: [site], certificate: desk)
            let made = try await client.post(
                "/v1/userdata", headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"data": {"account": "12345"}}"#))
            #expect(made.head.status == .created, "\(Self.json(made))")
            let key = try #require(Self.json(made)["key"] as? String)
            let history = Self.json(try await client.get("/v1/userdata/\(key)/history"))
            let change = try #require((history["changes"] as? [[String: Any]])?.first)
            #expect((change["by"] as? [String: Any])?["certificate"] as? String == "CN=desk-12")

            // Once a token is made, a certificate only lets a client connect: requests need the token too, and still
            // do after every token is revoked (a certificate is never handed every scope again).
            let admin = try await Self.token(client, "ops", ["admin"])
            try await client.shutdown()
            #expect(await Self.status(port: port, "/v1/events", trusting: [site], certificate: desk) == .unauthorized)
            #expect(
                await Self.status(port: port, "/v1/events", trusting: [site], certificate: desk, token: admin) == .ok)
            let revoker = try Self.client(port: port, trusting: [site], certificate: desk)
            let revoked = try await revoker.delete(
                "/v1/tokens/ops", headers: [.authorization: "Bearer \(admin)"], body: ByteBuffer())
            #expect(revoked.head.status == .ok)
            try await revoker.shutdown()
            #expect(await Self.status(port: port, "/v1/events", trusting: [site], certificate: desk) == .unauthorized)
        }
    }
}
