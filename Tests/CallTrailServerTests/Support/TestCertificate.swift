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
