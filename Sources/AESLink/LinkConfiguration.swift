import DMCC
import Foundation
import Yams

/// One AES link as the links file describes it (`calltrail serve --links FILE`, YAML or JSON; docs/links.md).
package struct LinkConfiguration: Sendable, Equatable {
    /// The events' `source`.
    package var name: String
    /// The events' `switch`: callIDs are unique per switch.
    package var switchID: String
    /// `tls://host:4722` or `tcp://host:4721`.
    package var url: LinkURL
    package var standby: LinkURL?
    package var username: String
    /// The password, from `password` or the file `passwordFile` names (its trailing newline removed). Never
    /// logged, never in `GET /v1/links`.
    package var password: String
    /// The switch connection's name on AES, for `GetDeviceId`.
    package var switchName: String
    /// A PEM file of the certificates to trust for TLS; nil trusts the system's.
    package var caFile: String?
    /// Skips the server certificate's checks (for a lab AES with a self-signed certificate); logged at start.
    package var insecureSkipVerify: Bool
    /// The extensions to monitor, ranges expanded.
    package var stations: [String]
    package var vdns: [String]
    /// The protocol version to ask for; nil asks for the newest CallTrail knows and lets AES choose.
    package var protocolVersion: String?
    /// The session's duration to ask for, in seconds; the keep-alive runs at a third of what AES grants.
    package var sessionDuration: Int
    /// How long AES keeps a lost session for a resume, in seconds.
    package var sessionCleanupDelay: Int
    /// The most events kept in memory while the database is away (about 1 KB each); past it the link ends its
    /// session until they are stored, and snapshots close the gap.
    package var maxQueuedEvents = 200_000

    package init(
        name: String, switchID: String, url: LinkURL, standby: LinkURL? = nil, username: String, password: String,
        switchName: String, caFile: String? = nil, insecureSkipVerify: Bool = false, stations: [String],
        vdns: [String], protocolVersion: String? = nil, sessionDuration: Int = 180, sessionCleanupDelay: Int = 60
    ) {
        self.name = name
        self.switchID = switchID
        self.url = url
        self.standby = standby
        self.username = username
        self.password = password
        self.switchName = switchName
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
        self.stations = stations
        self.vdns = vdns
        self.protocolVersion = protocolVersion
        self.sessionDuration = sessionDuration
        self.sessionCleanupDelay = sessionCleanupDelay
    }

    /// The protocol versions to offer AES.
    package var protocolVersions: [String] {
        protocolVersion.map { [DMCCRequest.protocolVersion($0)] } ?? DMCCRequest.protocolVersions
    }
}

/// Where an AES listens: `tls://host:port` or `tcp://host:port`.
package struct LinkURL: Sendable, Equatable, CustomStringConvertible {
    package var tls: Bool
    package var host: String
    package var port: Int

    package init(tls: Bool, host: String, port: Int) {
        self.tls = tls
        self.host = host
        self.port = port
    }

    package init(_ text: String) throws(LinkConfigurationError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            scheme == "tls" || scheme == "tcp", let host = components.host, !host.isEmpty
        else {
            throw LinkConfigurationError(
                "url \"\(text)\" is not an AES address such as tls://aes1.example.com:4722 or tcp://aes1:4721")
        }
        self.init(tls: scheme == "tls", host: host, port: components.port ?? (scheme == "tls" ? 4722 : 4721))
    }

    package var description: String { "\(tls ? "tls" : "tcp")://\(host):\(port)" }
}

/// A links file that cannot be used: which link, which field, and why.
package struct LinkConfigurationError: Error, Sendable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

extension LinkConfiguration {
    /// The links of a links file. `${VAR}` in `url`, `username`, `password` and `passwordFile` is replaced by the
    /// environment's value (`${VAR:-default}` gives a value when it has none); a link with a problem is an error naming it, as the process cannot do what it was told.
    package static func load(
        file path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(LinkConfigurationError) -> [LinkConfiguration] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw LinkConfigurationError("cannot read the links file \(path): \(error.localizedDescription)")
        }
        return try parse(
            text, environment: environment, relativeTo: URL(fileURLWithPath: path).deletingLastPathComponent())
    }

    /// Links from the text of a links file (YAML, or JSON, which YAML reads too).
    package static func parse(
        _ text: String, environment: [String: String], relativeTo folder: URL? = nil
    ) throws(LinkConfigurationError) -> [LinkConfiguration] {
        let file: LinksFile
        do { file = try YAMLDecoder().decode(LinksFile.self, from: text) } catch {
            throw LinkConfigurationError("the links file is not readable: \(Self.describe(error))")
        }
        var names = Set<String>()
        return try file.links.enumerated().map { (index, entry) throws(LinkConfigurationError) -> LinkConfiguration in
            let link = try entry.resolved(environment: environment, folder: folder, index: index)
            guard names.insert(link.name).inserted else {
                throw LinkConfigurationError("links[\(index)]: the name \(link.name) is used twice")
            }
            return link
        }
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.keyNotFound(let key, let context) = error {
            return "\((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")) is missing"
        }
        if case DecodingError.typeMismatch(_, let context) = error {
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        }
        // A YAML error quotes the line it stopped at, which may be a password's: only its position is told.
        var yaml = error as? YamlError
        if case DecodingError.dataCorrupted(let context) = error { yaml = context.underlyingError as? YamlError }
        switch yaml {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return "it is not valid YAML or JSON at line \(mark.line), column \(mark.column) (\(problem))"
        default: break
        }
        let text = "\(error)"
        if let range = text.range(of: #"line \d+"#, options: .regularExpression) {
            return "it is not valid YAML or JSON near \(text[range])"
        }
        // Yams writes "LINE:COLUMN: error: ..." first.
        if let range = text.range(of: #"^\d+:\d+"#, options: .regularExpression) {
            let parts = text[range].split(separator: ":")
            return "it is not valid YAML or JSON near line \(parts[0]), column \(parts[1])"
        }
        return "it is not valid YAML or JSON"
    }

    /// `"5001-5003"` → `5001, 5002, 5003`; single extensions as they are.
    package static func expand(_ entries: [String], field: String) throws(LinkConfigurationError) -> [String] {
        var out: [String] = []
        for entry in entries {
            let parts = entry.split(separator: "-", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]), parts[0].count == parts[1].count {
                guard low <= high, high - low < 10_000 else {
                    throw LinkConfigurationError("\(field): the range \(entry) is empty or longer than 10,000")
                }
                out += (low...high).map { String(format: "%0\(parts[0].count)d", $0) }
            } else if parts.count == 1, !parts[0].isEmpty,
                parts[0].allSatisfy({ $0.isNumber || $0 == "#" || $0 == "*" })
            {
                out.append(parts[0])
            } else {
                throw LinkConfigurationError(
                    "\(field): \"\(entry)\" is neither an extension nor a range such as 5001-5050")
            }
        }
        return out
    }
}

/// The file as written.
private struct LinksFile: Decodable {
    var links: [Entry]

    struct Entry: Decodable {
        var name: String
        var `switch`: String?
        var url: String
        var standby: String?
        var username: String
        var password: String?
        var passwordFile: String?
        var switchName: String
        var caFile: String?
        var insecureSkipVerify: Bool?
        var stations: [String]?
        var vdns: [String]?
        var protocolVersion: String?
        var sessionDuration: Int?
        var sessionCleanupDelay: Int?
        var maxQueuedEvents: Int?

        func resolved(
            environment: [String: String], folder: URL?, index: Int
        ) throws(LinkConfigurationError) -> LinkConfiguration {
            let field = { (name: String) in "links[\(index)] (\(self.name)).\(name)" }
            func expand(_ text: String, _ name: String) throws(LinkConfigurationError) -> String {
                var out = ""
                var rest = Substring(text)
                while let start = rest.range(of: "${") {
                    out += rest[..<start.lowerBound]
                    guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                        throw LinkConfigurationError("\(field(name)): an unclosed ${")
                    }
                    // ${VAR}, or ${VAR:-default} for a value when the environment has none.
                    let inner = String(rest[start.upperBound..<end])
                    let parts = inner.components(separatedBy: ":-")
                    let variable = parts[0]
                    if let value = environment[variable], !value.isEmpty {
                        out += value
                    } else if parts.count > 1 {
                        out += parts.dropFirst().joined(separator: ":-")
                    } else {
                        throw LinkConfigurationError("\(field(name)): the environment has no \(variable)")
                    }
                    rest = rest[rest.index(after: end)...]
                }
                return out + rest
            }
            guard !name.isEmpty, name.utf8.count <= 64, !name.hasPrefix("calltrail") else {
                throw LinkConfigurationError(
                    "links[\(index)].name must be 1 to 64 characters and not start with calltrail (CallTrail's own)")
            }
            if let switchID = self.switch, switchID.isEmpty || switchID.utf8.count > 64 {
                throw LinkConfigurationError("\(field("switch")) must be 1 to 64 characters")
            }
            let password: String
            if let file = passwordFile {
                var path = try expand(file, "passwordFile")
                if !path.hasPrefix("/"), let folder { path = folder.appendingPathComponent(path).path }
                do {
                    password = String(try String(contentsOfFile: path, encoding: .utf8).trimmingSuffix("\n"))
                } catch {
                    throw LinkConfigurationError("\(field("passwordFile")): cannot read \(path)")
                }
            } else if let text = self.password {
                password = try expand(text, "password")
            } else {
                throw LinkConfigurationError("\(field("password")): give password or passwordFile")
            }
            let stations = try LinkConfiguration.expand(self.stations ?? [], field: field("stations"))
            let vdns = try LinkConfiguration.expand(self.vdns ?? [], field: field("vdns"))
            guard !stations.isEmpty || !vdns.isEmpty else {
                throw LinkConfigurationError("\(field("stations")): the link monitors nothing (no stations, no vdns)")
            }
            let duration = sessionDuration ?? 180
            guard (30...3_600).contains(duration) else {
                throw LinkConfigurationError("\(field("sessionDuration")) must be 30 to 3600 seconds")
            }
            var caPath = caFile
            if let path = caPath, !path.hasPrefix("/"), let folder { caPath = folder.appendingPathComponent(path).path }
            let queued = maxQueuedEvents ?? 200_000
            guard queued >= 1 else {
                throw LinkConfigurationError("\(field("maxQueuedEvents")) must be at least 1")
            }
            do {
                var link = LinkConfiguration(
                    name: name, switchID: self.switch ?? name, url: try LinkURL(try expand(url, "url")),
                    standby: try standby.map { (text) throws(LinkConfigurationError) in
                        try LinkURL(try expand(text, "standby"))
                    },
                    username: try expand(username, "username"), password: password, switchName: switchName,
                    caFile: caPath, insecureSkipVerify: insecureSkipVerify ?? false, stations: stations, vdns: vdns,
                    protocolVersion: protocolVersion, sessionDuration: duration,
                    sessionCleanupDelay: sessionCleanupDelay ?? 60)
                link.maxQueuedEvents = queued
                return link
            } catch {
                throw LinkConfigurationError("\(field("url")): \(error.description)")
            }
        }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> Substring {
        var text = Substring(self)
        while text.hasSuffix(suffix) || text.hasSuffix("\r") { text = text.dropLast() }
        return text
    }
}
