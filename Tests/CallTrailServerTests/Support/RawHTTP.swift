import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// HTTP/1.1 over a plain socket, written and read the way the simplest clients do: the whole request (body
/// included) is sent before anything is read, and the connection is closed after one answer. That is how Python's
/// urllib and many SDKs behave, and what a server that answers early must still serve.
struct RawHTTP {
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let port: Int
    /// How long a read or write may block.
    var timeout: TimeInterval = 10

    /// Sends `request` (head and body as bytes) and reads the answer until the server closes the connection.
    /// `bodiless`: the request was a HEAD, whose answer has no body whatever its `Content-Length` says.
    func exchange(_ request: [UInt8], bodiless: Bool = false) throws -> Answer {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(socket) }
        var time = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect: \(errno)") }
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes {
                send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else {
                throw Failure(description: "send stopped after \(sent) of \(request.count) bytes: errno \(errno)")
            }
            sent += written
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else {
                if received.isEmpty { throw Failure(description: "no answer: errno \(errno)") }
                break
            }
            received += buffer[..<count]
            if let answer = Self.complete(received, bodiless: bodiless) { return answer }
        }
        guard let answer = Self.complete(received, closed: true, bodiless: bodiless) else {
            throw Failure(description: "not an HTTP answer: \(String(decoding: received.prefix(200), as: UTF8.self))")
        }
        return answer
    }

    /// A request with a JSON body.
    /// `exchange` on a thread of its own, for async tests: its socket calls block, and a blocked thread of the
    /// concurrency pool (two on a 2-core machine) is one that a server in the same process cannot answer on.
    func exchangeOffPool(
        _ method: String, _ target: String, body: [UInt8] = [], headers: [String: String] = [:]
    ) async throws -> Answer {
        try await onThread { Result { try exchange(method, target, body: body, headers: headers) } }.get()
    }

    func exchange(
        _ method: String, _ target: String, body: [UInt8] = [], headers: [String: String] = [:]
    ) throws -> Answer {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if !body.isEmpty || method == "POST" || method == "PUT" {
            // JSON unless the caller names its own type.
            if !headers.keys.contains(where: { $0.lowercased() == "content-type" }) {
                head += "Content-Type: application/json\r\n"
            }
            head += "Content-Length: \(body.count)\r\n"
        }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        return try exchange(Array((head + "\r\n").utf8) + body, bodiless: method == "HEAD")
    }

    /// The answer, once `bytes` hold its head and its whole `Content-Length` body.
    static func complete(_ bytes: [UInt8], closed: Bool = false, bodiless: Bool = false) -> Answer? {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let body = bytes[end.upperBound...]
        if bodiless { return Answer(status: status, headers: headers, body: String(decoding: body, as: UTF8.self)) }
        if let length = headers["content-length"].flatMap(Int.init) {
            guard body.count >= length else { return nil }
            return Answer(status: status, headers: headers, body: String(decoding: body.prefix(length), as: UTF8.self))
        }
        return closed ? Answer(status: status, headers: headers, body: String(decoding: body, as: UTF8.self)) : nil
    }
}

/// A TCP port nobody listens on now, for a server process a test starts.
func freePort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
        }
    }
    guard bound else { throw RawHTTP.Failure(description: "no free port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
