// Licensed under the Apache License, Version 2.0.
//
// The SFTP client's connections: a small pool of SSH sessions (libssh2 sessions are not
// thread-safe, so each is used by one thread at a time; the conformance suite writes from 8),
// opened on demand, verified (host key) and authenticated, reused while healthy, and replaced
// after a dropped connection. `run` wraps an operation in the retry policy: transient failures
// (connect refused, timeout, connection lost) are retried on a fresh connection with bounded
// exponential backoff; authentication, host-key and configuration failures are not.
// Counters (connect attempts, connects, disconnects observed, reconnects) let tests see it.

import Foundation
import Logging

/// What the client's connection management has done so far.
public struct SFTPConnectionCounters: Sendable, Equatable {
    /// Connections started (TCP connect, handshake, host key, authentication, SFTP).
    public var connectAttempts = 0
    /// Connections that became usable.
    public var connects = 0
    /// Connections found dropped or broken (and discarded).
    public var disconnectsObserved = 0
    /// Connects that replaced a connection found broken.
    public var reconnects = 0
    /// Operations retried after a transient failure.
    public var retries = 0
}

final class SFTPConnectionPool: @unchecked Sendable {
    // @unchecked Sendable because every mutable field is guarded by `condition`, and a checked-out
    // connection belongs to the one thread that checked it out until it is checked back in.
    private let config: SFTPReplicaConfig
    private let logger: Logger
    private let condition = NSCondition()
    private var idle: [SSH2Connection] = []
    private var open = 0
    private var generation = 0
    private var unreplacedDisconnects = 0
    private var stats = SFTPConnectionCounters()

    init(config: SFTPReplicaConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    deinit { close() }

    /// A copy of the counters.
    var counters: SFTPConnectionCounters {
        condition.lock()
        defer { condition.unlock() }
        return stats
    }

    /// Runs `body` on a connection, retrying transient failures on fresh connections.
    ///
    /// `body` must be safe to repeat: it runs again from the start after a transient failure.
    /// Errors that are not `StreamError` or `SSH2Failure` (e.g. a caller's sink) pass through untouched.
    func run<T>(_ what: String, _ body: (SSH2Connection) throws -> T) throws -> T {
        var attempt = 0
        var backoff = config.initialBackoff
        var staleRetried = false
        while true {
            attempt += 1
            let failure: StreamError
            do {
                let (connection, reused) = try checkout()
                do {
                    let result = try body(connection)
                    checkin(connection)
                    return result
                } catch {
                    checkin(connection)
                    let converted = Self.streamError(error)
                    // A pooled connection that died while idle is replaced at once, without counting an attempt.
                    if reused && connection.isBroken && !staleRetried, let converted, converted.isTransient {
                        staleRetried = true
                        attempt -= 1
                        bump { $0.retries += 1 }
                        logger.debug("\(config.description): \(what): idle connection was dropped, reconnecting")
                        continue
                    }
                    guard let converted else { throw error }
                    failure = converted
                }
            } catch let error as StreamError {
                failure = error
            }

            // Only transient failures are retried, and only a bounded number of times.
            guard failure.isTransient, attempt < config.maxAttempts else { throw failure }
            bump { $0.retries += 1 }
            logger.info("\(config.description): \(what) failed (attempt \(attempt) of \(config.maxAttempts)), retrying in \(backoff): \(failure.message)")
            Thread.sleep(forTimeInterval: Double(backoff.components.seconds) + Double(backoff.components.attoseconds) / 1e18)
            backoff = min(backoff * 2, config.maxBackoff)
        }
    }

    /// Closes the idle connections; busy ones close when they come back. The pool stays usable.
    func close() {
        condition.lock()
        generation += 1
        let closing = idle
        idle.removeAll()
        open -= closing.count
        condition.broadcast()
        condition.unlock()
        for connection in closing { connection.close() }
    }

    // MARK: - Checkout and checkin

    /// A healthy idle connection, or a new one when the pool has room, or waits for one.
    private func checkout() throws -> (SSH2Connection, reused: Bool) {
        condition.lock()
        while true {
            // Reuse the most recently used idle connection that still looks alive.
            while let connection = idle.popLast() {
                let idleFor = ContinuousClock.now - connection.idleSince
                let keepaliveDue = config.keepaliveInterval > .zero && idleFor >= config.keepaliveInterval
                if connection.peerHasClosed() || (keepaliveDue && !connection.sendKeepaliveIfDue()) {
                    open -= 1
                    stats.disconnectsObserved += 1
                    unreplacedDisconnects += 1
                    logger.debug("\(config.description): an idle connection was dropped by the server or the network")
                    connection.close()
                    continue
                }
                condition.unlock()
                return (connection, true)
            }
            // Otherwise open a new one outside the lock, keeping its slot reserved.
            if open < config.maxConnections {
                open += 1
                stats.connectAttempts += 1
                let connectionGeneration = generation
                condition.unlock()
                let connection: SSH2Connection
                do {
                    connection = try connect()
                } catch {
                    condition.lock()
                    open -= 1
                    condition.signal()
                    condition.unlock()
                    throw error
                }
                connection.generation = connectionGeneration
                condition.lock()
                stats.connects += 1
                if unreplacedDisconnects > 0 {
                    unreplacedDisconnects -= 1
                    stats.reconnects += 1
                    logger.info("\(config.description): reconnected")
                }
                condition.unlock()
                return (connection, false)
            }
            condition.wait()
        }
    }

    /// Returns a connection: kept when healthy and current, discarded (and counted) when broken.
    private func checkin(_ connection: SSH2Connection) {
        condition.lock()
        var discard = false
        if connection.isBroken {
            open -= 1
            stats.disconnectsObserved += 1
            unreplacedDisconnects += 1
            discard = true
            logger.warning("\(config.description): connection lost; it will be replaced")
        } else if connection.generation != generation {
            open -= 1
            discard = true
        } else {
            connection.idleSince = .now
            idle.append(connection)
        }
        condition.signal()
        condition.unlock()
        if discard { connection.close() }
    }

    /// Opens, verifies, authenticates and starts SFTP on a new connection.
    private func connect() throws -> SSH2Connection {
        let place = "\(config.user)@\(config.host):\(config.port)"
        let connection = try SSH2Connection(host: config.host, port: config.port, timeout: config.timeout,
                                            keepaliveSeconds: Int(config.keepaliveInterval.components.seconds), place: place)
        do {
            // The host key is checked before any credential leaves this machine.
            try SFTPHostKeyVerifier.verify(connection, config: config, logger: logger)
            switch config.authentication {
            case .privateKey(let path, let passphrase):
                try connection.authenticate(user: config.user, keyPath: SFTPReplicaConfig.expandTilde(path), passphrase: passphrase)
            case .password(let password):
                try connection.authenticate(user: config.user, password: password)
            }
            try connection.startSFTP()
            return connection
        } catch {
            connection.close()
            throw error
        }
    }

    private func bump(_ change: (inout SFTPConnectionCounters) -> Void) {
        condition.lock()
        change(&stats)
        condition.unlock()
    }

    /// The `StreamError` for a failure from a connection, or nil when it is not one of ours.
    static func streamError(_ error: any Error) -> StreamError? {
        switch error {
        case let error as StreamError:
            return error
        case SSH2Failure.transport(_, let message):
            return StreamError(.unavailable, message, isTransient: true)
        case SSH2Failure.status(let status, let message):
            if SSH2Connection.isMissing(status) { return StreamError(.notFound, message, isTransient: false) }
            if SSH2Connection.isPermissionDenied(status) { return StreamError(.accessDenied, message, isTransient: false) }
            return StreamError(.replicaError, message, isTransient: false)
        default:
            return nil
        }
    }
}
