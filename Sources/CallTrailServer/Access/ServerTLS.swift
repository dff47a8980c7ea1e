import EventStore
import Foundation
import Logging
import Metrics
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import Synchronization
import UnixSignals
import X509

/// The server's TLS: its certificate chain and key, and for mutual TLS the CA its clients' certificates must chain
/// to, read from PEM files at start and read again on SIGHUP, so a rotated certificate is served without a restart.
///
/// Each new connection takes the context current when it is accepted; connections already open keep theirs. A
/// reload that fails (a file missing, a key that does not match) keeps the certificate already served and says why.
/// TLS 1.2 is the oldest version offered.
package final class ServerTLS: Service, Sendable {
    /// The PEM files: `--tls-cert` (the chain, leaf first), `--tls-key`, and `--tls-client-ca` for mutual TLS.
    package struct Files: Sendable, Equatable {
        package var certificate: String
        package var key: String
        package var clientCA: String?

        package init(certificate: String, key: String, clientCA: String? = nil) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
        }
    }

    let files: Files
    let logger: Logger
    private let context: Mutex<NIOSSLContext>
    private let expiry = Gauge(label: "calltrail_tls_certificate_expiry_timestamp_seconds")

    package init(files: Files, logger: Logger) throws(ServerTLSError) {
        self.files = files
        self.logger = logger
        let (context, notAfter) = try Self.load(files)
        self.context = Mutex(context)
        expiry.record(notAfter)
        logger.notice(
            "serving HTTPS and WSS",
            metadata: [
                "certificate_valid_until": "\(Date(timeIntervalSince1970: Double(notAfter)))",
                "client_certificates": "\(files.clientCA == nil ? "not asked" : "required")",
            ])
    }

    /// Whether clients must present a certificate the CA signed.
    var requiresClientCertificates: Bool { files.clientCA != nil }

    /// The context a new connection is served with.
    var current: NIOSSLContext { context.withLock { $0 } }

    /// Reads the files again; on failure keeps serving the certificate it had.
    @discardableResult
    func reload() -> Bool {
        do {
            let (context, notAfter) = try Self.load(files)
            self.context.withLock { $0 = context }
            expiry.record(notAfter)
            logger.notice(
                "TLS certificate reloaded",
                metadata: ["certificate_valid_until": "\(Date(timeIntervalSince1970: Double(notAfter)))"])
            return true
        } catch {
            logger.error(
                "TLS certificate not reloaded; still serving the previous one", metadata: ["error": "\(error)"])
            return false
        }
    }

    private static func load(_ files: Files) throws(ServerTLSError) -> (NIOSSLContext, Int) {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificate)
        } catch {
            throw ServerTLSError("--tls-cert could not be read as PEM certificates: \(LoggedError(error))")
        }
        guard let leaf = chain.first else { throw ServerTLSError("--tls-cert holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.key, format: .pem)
        } catch {
            throw ServerTLSError("--tls-key could not be read as a PEM private key: \(LoggedError(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCA = files.clientCA {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(clientCA)
            } catch {
                throw ServerTLSError("--tls-client-ca could not be read as PEM certificates: \(LoggedError(error))")
            }
            guard !roots.isEmpty else { throw ServerTLSError("--tls-client-ca holds no certificate") }
            configuration.trustRoots = .certificates(roots)
            // A client is not a host name: its certificate must chain to the CA, and that is all that is checked.
            configuration.certificateVerification = .noHostnameVerification
        }
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return (context, leaf.notValidAfter)
        } catch {
            throw ServerTLSError(
                "--tls-cert and --tls-key do not make a TLS context (does the key match the certificate?): "
                    + "\(LoggedError(error))")
        }
    }

    /// The subject of a client's certificate, as the audit names the client (`CN=desk-12,O=Example`).
    static func subject(of certificate: NIOSSLCertificate) -> String? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return nil
        }
        return parsed.subject.description
    }

    /// Reloads the certificate on every SIGHUP until shutdown.
    package func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                self.logger.notice("SIGHUP: reading the TLS certificate again")
                self.reload()
            }
        }
    }
}

/// Why the TLS files cannot be served. It names the option, never the file's path.
package struct ServerTLSError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}
