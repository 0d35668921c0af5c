// Licensed under the Apache License, Version 2.0.
//
// The NATS replica: a `ReplicaClient` over a JetStream object store bucket, readable and
// writable by every other object store client (nats.go, nats.py, the `nats` CLI). Keys map to
// object names `PREFIX/KEY`. One connection per client, shared by all threads (libnats is
// thread-safe); it is opened on first use, and replaced if libnats gives up on it.
//
// Failures: a lost connection, a timeout or a missing responder is transient. Every operation
// runs inside `withRetry`, which backs off (100 ms doubling to 2 s) and runs the whole
// operation again until `retryTimeout` has passed, then throws `.unavailable`. A refused
// login or permission is `.accessDenied` and never retried; a missing bucket is
// `.invalidConfiguration`, saying how to create it.

import Foundation
import Logging
import Synchronization

/// A replica client storing objects in a NATS JetStream object store bucket.
///
/// Build it from a ``NATSReplicaConfig``:
///
/// ```swift
/// let client = try NATSReplicaConfig(url: "nats://127.0.0.1:4222/backups/db1").makeClient()
/// try client.write(key: "generations/g1/snapshots/0000000000000001.snapshot", from: .file(path: path))
/// ```
///
/// The bucket must exist (`nats object add BUCKET`); the client never creates it.
public final class NATSReplicaClient: ReplicaClient {
    /// Counts of protocol work, for tests and diagnostics.
    public struct Counters: Sendable, Equatable {
        /// Chunk messages published by puts.
        public var chunksPublished = 0
        /// Chunk messages whose payload was fetched by reads (headers-only scans are not counted).
        public var chunksFetched = 0
        /// Whole-object reads completed (ranged reads are not whole-object reads).
        public var objectBodiesRead = 0
        /// Meta messages read (info lookups and listings).
        public var metaMessagesRead = 0
        /// Operations run again after a transient failure.
        public var retries = 0

        public init() {}
    }

    /// `nats://HOST:PORT/BUCKET/PREFIX`, without credentials.
    public let description: String
    /// `nats`.
    public var kind: String { "nats" }

    private let config: NATSReplicaConfig
    private let settings: NATSConnectionSettings
    private let layout: NATSObjectStoreLayout
    private let session = Mutex<(connection: NATSConnection, stream: NATSStreamSummary)?>(nil)
    private let counterBox = NATSReplicaCounterBox()
    private let chunkHook = Mutex<(@Sendable (Int) -> Void)?>(nil)
    private let logger = Logger(label: "witchbolt.stream.nats")

    /// Creates a client; it connects on first use.
    public init(config: NATSReplicaConfig) throws {
        try config.validate()
        self.config = config
        self.settings = try config.connectionSettings()
        self.layout = NATSObjectStoreLayout(bucket: config.bucket)
        self.description = config.description
    }

    /// What this client has done so far.
    public var counters: Counters { counterBox.value }

    /// Connects now (if not yet connected) and checks that the bucket exists.
    ///
    /// - Throws: `StreamError` `.invalidConfiguration` when the bucket is missing,
    ///   `.accessDenied` when the server refuses the credentials, `.unavailable` when no server answers.
    public func connect() throws {
        try withRetry("connect") { _ in }
    }

    /// Test hook: called after each chunk a put publishes, with the chunk's 1-based index.
    func setChunkPublishedHook(_ hook: (@Sendable (Int) -> Void)?) {
        chunkHook.withLock { $0 = hook }
    }

    // MARK: ReplicaClient

    /// Puts the object `PREFIX/KEY`: chunks first, then the meta that makes it visible at once.
    public func write(key: String, from source: ObjectSource) throws {
        let name = objectName(key)
        let hook = chunkHook.withLock { $0 }
        var attempted: [String] = []
        var replaced: NATSObjectInfo?
        try withRetry("write \(key)") { store in
            // A previous attempt whose meta landed although its ack was lost is a success;
            // only the chunks of the object it replaced are left to purge.
            let previous = try store.info(name: name)
            if attempted.isEmpty { replaced = previous }
            if let last = attempted.last, previous?.nuid == last, previous?.isDeleted == false {
                if let replaced, !replaced.isDeleted, let old = replaced.nuid, !old.isEmpty {
                    try store.connection.purge(stream: layout.stream, subject: layout.chunkSubject(nuid: old))
                }
                return
            }
            for nuid in attempted {
                try? store.connection.purge(stream: layout.stream, subject: layout.chunkSubject(nuid: nuid))
            }
            let nuid = NATSNUID.next()
            attempted.append(nuid)
            try store.put(name: name, nuid: nuid, source: source, chunkSize: config.chunkSize, previous: previous) { hook?($0) }
        }
    }

    /// Reads a whole object and verifies its size and SHA-256 digest.
    public func read(key: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try read(key: key) { bytes += $0 }
        return bytes
    }

    /// Reads `range` of an object (clamped to its end), fetching only the chunks covering it.
    public func read(key: String, range: Range<Int64>) throws -> [UInt8] {
        let name = objectName(key)
        return try withRetry("read \(key) range \(range)") { store in
            try store.readRange(of: try store.requireInfo(name: name), range: range)
        }
    }

    /// Streams an object to `sink` chunk by chunk; the digest is checked after the last one.
    public func read(key: String, into sink: ([UInt8]) throws -> Void) throws {
        // A retry after a partial delivery skips what the sink already has, and only
        // continues on the same object instance.
        let name = objectName(key)
        var delivered = 0
        var instance: String?
        try withRetry("read \(key)") { store in
            let info = try store.requireInfo(name: name)
            if delivered > 0, info.nuid != instance {
                throw StreamError(.replicaError, "\(description): object \(key) was replaced while being read", isTransient: false)
            }
            instance = info.nuid
            var position = 0
            try store.readChunks(of: info) { chunk in
                let skip = max(0, delivered - position)
                position += chunk.count
                if skip < chunk.count {
                    try sink(skip == 0 ? chunk : Array(chunk[skip...]))
                    delivered += chunk.count - skip
                }
            }
        }
    }

    /// Lists live objects under `prefix` from their meta messages, reading no object body.
    public func list(prefix: String) throws -> [ObjectInfo] {
        let namePrefix = objectName(prefix)
        let found = try withRetry("list \(prefix.isEmpty ? "everything" : prefix)") { store in try store.list(namePrefix: namePrefix) }
        let keyStart = namePrefix.count - prefix.count
        return found
            .map { ObjectInfo(key: String($0.name.dropFirst(keyStart)), size: Int64($0.size ?? 0)) }
            .sorted { $0.key < $1.key }
    }

    /// Deletes objects: a delete marker, then a purge of the chunks. Missing keys are fine.
    public func delete(keys: [String]) throws {
        for key in keys {
            let name = objectName(key)
            try withRetry("delete \(key)") { store in try store.delete(name: name) }
        }
    }

    /// Removes the delete markers this replica's deletes left behind, once older than `age`.
    ///
    /// A delete leaves a small tombstone meta (the protocol's delete marker, so that other
    /// clients and watchers see the delete); a listing reads every meta of the bucket, markers
    /// included. Retention calls this now and then so that a long-lived replica's listings do
    /// not grow with every segment it ever deleted. Only names under this replica's prefix are
    /// touched. Run it rarely: another client's listing that is running at that moment may
    /// count a purged marker as still to come (nats-py then waits for it until its timeout).
    ///
    /// - Returns: how many markers were purged.
    @discardableResult
    public func purgeDeleteMarkers(olderThan age: Duration = .seconds(30 * 60)) throws -> Int {
        let namePrefix = objectName("")
        let cutoff = Int64(Date.now.timeIntervalSince1970 * 1e9) - NATSReplicaConfig.milliseconds(age) * 1_000_000
        return try withRetry("purge delete markers") { store in
            try store.purgeDeleteMarkers(namePrefix: namePrefix, storedBefore: cutoff)
        }
    }

    /// Drops the connection; the next operation connects again.
    public func close() {
        session.withLock { $0 = nil }
    }

    // MARK: Connection and retries

    /// The object name of a key: `PREFIX/KEY`, or `KEY` without a prefix.
    func objectName(_ key: String) -> String {
        config.prefix.isEmpty ? key : config.prefix + "/" + key
    }

    /// Runs `body` on the bound object store, retrying transient failures with backoff.
    private func withRetry<T>(_ operation: String, _ body: (NATSObjectStore) throws -> T) throws -> T {
        let deadline = ContinuousClock.now + config.retryTimeout
        var delay = Duration.milliseconds(100)
        while true {
            do {
                return try body(try bind())
            } catch let failure as NATSFailure {
                let error = streamError(failure, operation)
                guard error.isTransient, ContinuousClock.now + delay < deadline else { throw error }
                retryAfter(delay, operation, "\(failure)")
            } catch let error as StreamError where error.isTransient {
                guard ContinuousClock.now + delay < deadline else { throw error }
                retryAfter(delay, operation, error.message)
            }
            delay = min(delay * 2, .seconds(2))
        }
    }

    private func retryAfter(_ delay: Duration, _ operation: String, _ reason: String) {
        logger.warning("nats replica: retrying", metadata: [
            "replica": "\(description)", "operation": "\(operation)", "reason": "\(reason)", "delay": "\(delay)",
        ])
        counterBox.add(\.retries, 1)
        // A connection libnats closed for good is replaced on the next attempt.
        session.withLock { current in
            if current?.connection.isClosed == true { current = nil }
        }
        Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds))
    }

    /// The current connection and bucket, connecting and checking the bucket if needed.
    private func bind() throws -> NATSObjectStore {
        let (connection, stream) = try session.withLock { current in
            if let current, !current.connection.isClosed { return current }
            let connection = try NATSConnection(settings: settings)
            let stream = try bucketStream(connection)
            current = (connection, stream)
            return (connection, stream)
        }
        return NATSObjectStore(
            connection: connection, layout: layout, stream: stream, counters: counterBox,
            waitMilliseconds: NATSReplicaConfig.milliseconds(config.requestTimeout)
        )
    }

    /// The bucket's stream, or a clear error when the bucket does not exist.
    private func bucketStream(_ connection: NATSConnection) throws -> NATSStreamSummary {
        do {
            let stream = try connection.streamInfo(layout.stream)
            if !stream.allowsRollup {
                logger.warning("nats replica: the bucket's stream does not allow rollups; overwrites will keep old meta messages", metadata: ["replica": "\(description)"])
            }
            return stream
        } catch let failure as NATSFailure where failure.isStreamNotFound || failure.kind == .notFound {
            throw StreamError(.invalidConfiguration, "\(description): the NATS object store bucket \(layout.bucket) does not exist (no stream \(layout.stream)); create it first, e.g. `nats object add \(layout.bucket)` or any client's create_object_store(\"\(layout.bucket)\")")
        }
    }

    private func streamError(_ failure: NATSFailure, _ operation: String) -> StreamError {
        let message = "\(description): \(operation): \(failure)"
        switch failure.kind {
        case .notFound: return StreamError(.notFound, message)
        case .accessDenied: return StreamError(.accessDenied, message, isTransient: false)
        case .transient: return StreamError(.unavailable, message, isTransient: true)
        case .configuration: return StreamError(.invalidConfiguration, message, isTransient: false)
        case .other: return StreamError(.replicaError, message, isTransient: false)
        }
    }
}

/// The counters, shared by every operation of one client.
final class NATSReplicaCounterBox: Sendable {
    private let counters = Mutex(NATSReplicaClient.Counters())

    var value: NATSReplicaClient.Counters { counters.withLock { $0 } }

    func add(_ counter: WritableKeyPath<NATSReplicaClient.Counters, Int>, _ amount: Int) {
        counters.withLock { $0[keyPath: counter] += amount }
    }
}
