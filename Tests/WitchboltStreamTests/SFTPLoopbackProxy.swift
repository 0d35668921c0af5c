// A small TCP proxy on 127.0.0.1 for the SFTP outage tests: it forwards every accepted
// connection to an upstream port, counts the bytes the client sends, and can cut every live
// connection at once, by hand or automatically once the client has sent a given number of
// bytes (so that a cut lands in the middle of an operation, deterministically). After a cut it
// keeps accepting: the client under test reconnects through it.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

final class SFTPLoopbackProxy: @unchecked Sendable {
    // @unchecked Sendable because every mutable field is guarded by `lock`; the sockets are plain
    // descriptors shared by the pump threads, which only read, write and shut them down.
    private let lock = NSLock()
    private let listener: Int32
    private let upstreamPort: Int
    private var pairs: [ObjectIdentifier: Pair] = [:]
    private var cutThreshold: Int?
    private var cutThresholdDown: Int?
    private var stopped = false
    private(set) var port: Int = 0

    private var acceptedCount = 0
    private var cutCount = 0
    private var sentUpstream = 0
    private var sentDownstream = 0

    /// Connections accepted so far.
    var accepted: Int { lock.lock(); defer { lock.unlock() }; return acceptedCount }
    /// Times all connections were cut.
    var cuts: Int { lock.lock(); defer { lock.unlock() }; return cutCount }
    /// Bytes received from the server, over all connections.
    var bytesFromServer: Int { lock.lock(); defer { lock.unlock() }; return sentDownstream }
    /// Bytes forwarded from clients to the server, over all connections.
    var bytesFromClients: Int { lock.lock(); defer { lock.unlock() }; return sentUpstream }

    /// Listens on a free loopback port and forwards to `127.0.0.1:upstreamPort`.
    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw SFTPTestError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        _ = setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            _ = close(listener)
            throw SFTPTestError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// Cuts every live connection the next time the clients' byte count passes `bytes` (once).
    func cut(afterClientBytes bytes: Int) {
        lock.lock()
        cutThreshold = sentUpstream + bytes
        lock.unlock()
    }

    /// Cuts every live connection the next time the server's byte count passes `bytes` (once).
    func cut(afterServerBytes bytes: Int) {
        lock.lock()
        cutThresholdDown = sentDownstream + bytes
        lock.unlock()
    }

    /// Cuts every live connection now (both directions, like a network failure).
    func cutAll() {
        lock.lock()
        let live = Array(pairs.values)
        cutCount += 1
        lock.unlock()
        for pair in live { pair.shutdownBoth() }
    }

    /// Stops accepting and cuts everything.
    func stop() {
        lock.lock()
        if stopped { lock.unlock(); return }
        stopped = true
        lock.unlock()
        _ = shutdown(listener, Int32(SHUT_RDWR))
        _ = close(listener)
        cutAll()
    }

    // MARK: - Forwarding

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                lock.lock(); let done = stopped; lock.unlock()
                if done || (errno != EINTR && errno != ECONNABORTED) { return }
                continue
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected != 0 {
                _ = close(upstream)
                _ = close(client)
                continue
            }
            let pair = Pair(client: client, upstream: upstream)
            lock.lock()
            acceptedCount += 1
            pairs[ObjectIdentifier(pair)] = pair
            lock.unlock()
            Thread { [self] in pump(pair, from: client, to: upstream, fromClient: true) }.start()
            Thread { [self] in pump(pair, from: upstream, to: client, fromClient: false) }.start()
        }
    }

    private func pump(_ pair: Pair, from source: Int32, to destination: Int32, fromClient: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        loop: while true {
            let n = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            lock.lock()
            var trigger = false
            if fromClient {
                sentUpstream += n
                trigger = cutThreshold.map { sentUpstream >= $0 } ?? false
                if trigger { cutThreshold = nil }
            } else {
                sentDownstream += n
                trigger = cutThresholdDown.map { sentDownstream >= $0 } ?? false
                if trigger { cutThresholdDown = nil }
            }
            lock.unlock()
            if trigger { cutAll(); break }
            var offset = 0
            while offset < n {
                let m = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL)) }
                if m <= 0 { break loop }
                offset += m
            }
        }
        pair.shutdownBoth()
        if pair.finishOne() {
            lock.lock()
            pairs[ObjectIdentifier(pair)] = nil
            lock.unlock()
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// One proxied connection: the two sockets, closed when both pumps have finished.
    private final class Pair: @unchecked Sendable {
        // @unchecked Sendable because `finished` is guarded by `lock`; the descriptors never change.
        let client: Int32
        let upstream: Int32
        private let lock = NSLock()
        private var finished = 0

        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }

        /// Shuts both sockets down (never after they were closed, so a reused descriptor is safe).
        func shutdownBoth() {
            lock.lock()
            defer { lock.unlock() }
            if finished == 2 { return }
            _ = shutdown(client, Int32(SHUT_RDWR))
            _ = shutdown(upstream, Int32(SHUT_RDWR))
        }

        /// Records one finished pump; the second one closes the sockets and returns true.
        func finishOne() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            finished += 1
            if finished == 2 {
                _ = close(client)
                _ = close(upstream)
            }
            return finished == 2
        }
    }
}
