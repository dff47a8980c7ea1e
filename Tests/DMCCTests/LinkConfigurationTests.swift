import AESLink
import Foundation
import Testing

/// The links file: YAML or JSON, ranges, variables, password files, and errors that name the link and the field.
struct LinkConfigurationTests {
    @Test func aYAMLFileWithRangesVariablesAndAPasswordFile() throws {
        let folder = URL(fileURLWithPath: "/tmp/calltrail-links-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "s3cret\n".write(to: folder.appendingPathComponent("aes1.secret"), atomically: true, encoding: .utf8)
        let file = folder.appendingPathComponent("links.yaml")
        try """
        links:
          - name: aes1
            switch: cm1
            url: tls://${AES_HOST}:4722
            standby: tls://aes2.example.com
            username: ${AES_USER:-ctiuser}
            passwordFile: aes1.secret
            switchName: CM1
            caFile: ca.pem
            stations: ["5001-5003", "5100"]
            vdns: ["7001"]
            protocolVersion: ed3/priv6
            sessionDuration: 120
          - name: lab
            url: tcp://127.0.0.1
            username: u
            password: "p@ss"
            switchName: CM2
            insecureSkipVerify: true
            vdns: ["87001"]
        """.write(to: file, atomically: true, encoding: .utf8)
        let links = try LinkConfiguration.load(file: file.path, environment: ["AES_HOST": "aes1.example.com"])
        #expect(links.count == 2)
        let aes1 = links[0]
        #expect(aes1.url == LinkURL(tls: true, host: "aes1.example.com", port: 4722))
        #expect(aes1.standby == LinkURL(tls: true, host: "aes2.example.com", port: 4722))
        #expect(aes1.username == "ctiuser")
        #expect(aes1.password == "s3cret", "the file's trailing newline is not part of the password")
        #expect(aes1.stations == ["5001", "5002", "5003", "5100"])
        #expect(aes1.caFile == folder.appendingPathComponent("ca.pem").path)
        #expect(aes1.protocolVersions == ["http://www.ecma-international.org/standards/ecma-323/csta/ed3/priv6"])
        #expect(aes1.sessionDuration == 120)
        let lab = links[1]
        #expect(lab.switchID == "lab", "switch defaults to the name")
        #expect(lab.url == LinkURL(tls: false, host: "127.0.0.1", port: 4721))
        #expect(lab.insecureSkipVerify)
        #expect(lab.sessionCleanupDelay == 60)
    }

    @Test func theSameAsJSON() throws {
        let links = try LinkConfiguration.parse(
            #"{"links":[{"name":"a","url":"tcp://h:1","username":"u","password":"p","switchName":"S","stations":["0101-0103"]}]}"#,
            environment: [:])
        #expect(links.first?.stations == ["0101", "0102", "0103"], "leading zeros are kept")
    }

    @Test(arguments: [
        (
            "links: [{name: a, url: 'http://h', username: u, password: p, switchName: S, stations: ['1']}]",
            "links[0] (a).url"
        ),
        ("links: [{name: a, url: 'tcp://h', username: u, switchName: S, stations: ['1']}]", "password or passwordFile"),
        (
            "links: [{name: a, url: 'tcp://h', username: '${NOPE}', password: p, switchName: S, stations: ['1']}]",
            "no NOPE"
        ),
        (
            "links: [{name: a, url: 'tcp://h', username: u, password: p, switchName: S, stations: ['5010-5001']}]",
            "5010-5001"
        ),
        ("links: [{name: a, url: 'tcp://h', username: u, password: p, switchName: S}]", "monitors nothing"),
        ("links: [{name: a, url: 'tcp://h', username: u, password: p, stations: ['1']}]", "switchName is missing"),
        (
            "links: [{name: a, url: 'tcp://h', username: u, password: p, switchName: S, stations: ['1']},"
                + " {name: a, url: 'tcp://h', username: u, password: p, switchName: S, stations: ['1']}]",
            "used twice"
        ),
    ])
    func aBadFileIsAnErrorThatNamesWhatIsWrong(_ text: String, _ expected: String) {
        // (see the arguments above)
        let error = #expect(throws: LinkConfigurationError.self) { try LinkConfiguration.parse(text, environment: [:]) }
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
    }

    @Test func aYAMLMistakeOnThePasswordLineDoesNotShowThePassword() {
        let error = #expect(throws: LinkConfigurationError.self) {
            try LinkConfiguration.parse(
                "links:\n  - name: a\n    password: s3cr3t: [oops\n    url: tcp://h\n", environment: [:])
        }
        #expect(error?.description.contains("s3cr3t") == false, "\(error?.description ?? "")")
        #expect(error?.description.contains("line") == true, "\(error?.description ?? "")")
    }

    @Test func aNameOfCallTrailsOwnIsRefused() {
        let error = #expect(throws: LinkConfigurationError.self) {
            try LinkConfiguration.parse(
                "links: [{name: calltrail-x, url: 'tcp://h', username: u, password: p, switchName: S, stations: ['1']}]",
                environment: [:])
        }
        #expect(error?.description.contains("calltrail") == true)
    }
}
