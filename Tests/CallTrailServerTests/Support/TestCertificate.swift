import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate the test makes for `localhost`, self-signed, written as PEM files: the simulator's AES serves
/// TLS with it and the link trusts it through `caFile`, as a lab AES with its own CA is set up.
struct TestCertificate {
    let certificateFile: String
    let keyFile: String

    static func make(in folder: URL) throws -> TestCertificate {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("localhost") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3_600), notValidAfter: Date().addingTimeInterval(86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName("localhost")])
            },
            issuerPrivateKey: .init(key))
        let certificateFile = folder.appendingPathComponent("aes.pem").path
        let keyFile = folder.appendingPathComponent("aes-key.pem").path
        try certificate.serializeAsPEM().pemString.write(toFile: certificateFile, atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(toFile: keyFile, atomically: true, encoding: .utf8)
        return TestCertificate(certificateFile: certificateFile, keyFile: keyFile)
    }
}

/// A certificate authority the test makes, and the certificates it signs: a server's for `localhost` and clients'
/// for mutual TLS. Each is written as PEM files in `folder`.
struct TestAuthority {
    let folder: URL
    let name: String
    let key: P256.Signing.PrivateKey
    let certificate: Certificate

    /// The CA's certificate file: what a client trusts, or what `--tls-client-ca` names.
    var certificateFile: String { folder.appendingPathComponent("\(name)-ca.pem").path }

    init(in folder: URL, name: String) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        self.folder = folder
        self.name = name
        key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName("CallTrail test CA \(name)") }
        certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3_600), notValidAfter: Date().addingTimeInterval(86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            },
            issuerPrivateKey: .init(key))
        try certificate.serializeAsPEM().pemString.write(toFile: certificateFile, atomically: true, encoding: .utf8)
    }

    /// A certificate for `commonName` signed by this CA, for a server (`localhost`) or a client; returns its
    /// certificate and key files (`file` names them).
    func issue(_ commonName: String, server: Bool, file: String) throws -> (certificate: String, key: String) {
        let leafKey = P256.Signing.PrivateKey()
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(leafKey.publicKey),
            notValidBefore: Date().addingTimeInterval(-3_600), notValidAfter: Date().addingTimeInterval(86_400),
            issuer: certificate.subject, subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([server ? .serverAuth : .clientAuth])
                if server { SubjectAlternativeNames([.dnsName("localhost")]) }
            },
            issuerPrivateKey: .init(key))
        let certificateFile = folder.appendingPathComponent("\(file).pem").path
        let keyFile = folder.appendingPathComponent("\(file)-key.pem").path
        try leaf.serializeAsPEM().pemString.write(toFile: certificateFile, atomically: true, encoding: .utf8)
        try leafKey.pemRepresentation.write(toFile: keyFile, atomically: true, encoding: .utf8)
        return (certificateFile, keyFile)
    }
}
