// A loopback HTTP server with a script, for the S3 retry tests: it answers each request with
// the next canned reply and records what it received (request line, headers, body).

import Foundation
import WitchboltStream

#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP/1.1 server that answers the n-th request with the n-th scripted reply and
/// closes the connection; a reply with status 0 closes it without answering.
final class S3ScriptedServer: @unchecked Sendable {
    // @unchecked Sendable because `received` and `stopped` are only touched under `lock`, and
    // the listening socket is closed by the accept thread alone (`stop` only shuts it down).
    struct Reply: Sendable {
        var status: Int
        var body: [UInt8]
        var headers: [String: String] = [:]
    }

    struct Request: Sendable {
        var requestLine: String
        var headers: [String: String]
        var body: [UInt8]
        var raw: String
    }

    let port: Int
    private let listener: Int32
    private let replies: [Reply]
    private let lock = NSLock()
    private var received: [Request] = []
    private var stopped = false

    var requests: [Request] { lock.lock(); defer { lock.unlock() }; return received }

    init(_ replies: [Reply]) throws {
        self.replies = replies
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
 guard bound else {
            close(fd)
            throw StreamError(.io, "scripted server: cannot listen on loopback")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in serve() }
    }

    /// Wakes the accept thread, which closes the socket itself (closing it here could hand its
    /// number to another test's socket while the thread still accepts on it).
    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func serve() {
        defer { close(listener) }
        var index = 0
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            lock.lock()
            let isStopped = stopped
            lock.unlock()
            guard !isStopped else {
                close(connection)
                return
            }
            let request = readRequest(connection)
            let reply = index < replies.count ? replies[index] : Reply(status: 500, body: [])
            index += 1
            if let request {
                lock.lock()
                received.append(request)
                lock.unlock()
            }
            if reply.status != 0 {
                let extra = reply.headers.map { "\($0.key): \($0.value)\r\n" }.joined()
                let head = "HTTP/1.1 \(reply.status) Scripted\r\nContent-Length: \(reply.body.count)\r\n\(extra)Connection: close\r\n\r\n"
                let bytes = Array(head.utf8) + reply.body
                _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            close(connection)
        }
    }

    /// Reads one request: the head up to the blank line, then Content-Length bytes of body.
    private func readRequest(_ connection: Int32) -> Request? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var headEnd: Int?
        var contentLength = 0
        while true {
            if let end = headEnd, data.count >= end + contentLength { break }
            let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            data += buffer[0..<n]
            if headEnd == nil, let range = findBlankLine(data) {
                headEnd = range
                let head = String(decoding: data[0..<range], as: UTF8.self)
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    contentLength = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
                if head.lowercased().contains("expect: 100-continue") {
                    _ = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
            }
        }
        let end = headEnd!
        let head = String(decoding: data[0..<(end - 4)], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst()
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Request(requestLine: requestLine, headers: headers, body: Array(data[end..<(end + contentLength)]), raw: head)
    }

    /// The index just past the first `\r\n\r\n`.
    private func findBlankLine(_ data: [UInt8]) -> Int? {
        guard data.count >= 4 else { return nil }
        for i in 0...(data.count - 4) where data[i] == 13 && data[i + 1] == 10 && data[i + 2] == 13 && data[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}
