// Licensed under the Apache License, Version 2.0. The controller of witchbolt's
// stream/controller.go, rebuilt so that the commit path only enqueues.
//
// The pipeline, one thread per stage:
//
//     didFlush (commit path: enqueue, never blocks)
//       -> StreamControllerQueue (bounded; overflow => new generation)
//       -> writer thread: generations, checksums, sealing every sync interval or size limit
//            <- snapshot thread (a read transaction streamed to a snapshot file)
//       -> outbox of sealed artefacts in the shadow directory, in shipping order
//       -> one uploader thread per replica (its own pace, retries with backoff, retention)
//
// The writer thread owns the generation and the running checksum alone; the state the
// threads share (the outbox, each replica's progress, requests between them) sits behind one
// mutex in `Shared`. Nothing here runs on a Swift concurrency thread: replica clients block.

import Foundation
import Logging
import Metrics
import Synchronization
import Witchbolt

/// What stopping the controller left unshipped.
public struct StreamShutdownReport: Sendable, CustomStringConvertible {
    /// Per replica: the artefacts it had not received when the shutdown timeout passed.
    public struct Unshipped: Sendable {
        /// The replica.
        public var replica: String
        /// How many sealed artefacts it lacks.
        public var artefacts: Int
        /// The last txid it holds.
        public var lastTxID: UInt64?
    }

    /// Replicas that did not receive everything (empty when all caught up).
    public var unshipped: [Unshipped]
    /// Commits received but never sealed (a snapshot still running, or the shadow directory failing).
    public var unsealedCommits: Int
    /// The last txid the stream received.
    public var lastTxID: UInt64?

    /// Whether every commit reached every replica.
    public var isComplete: Bool { unshipped.isEmpty && unsealedCommits == 0 }

    public var description: String {
        if isComplete { return "every commit up to txid \(lastTxID.map(String.init) ?? "-") reached every replica" }
        var parts = unshipped.map { "\($0.replica) lacks \($0.artefacts) artefacts (holds txid \($0.lastTxID.map(String.init) ?? "-"))" }
        if unsealedCommits > 0 { parts.append("\(unsealedCommits) commits were not sealed") }
        return parts.joined(separator: "; ")
    }
}

/// Replicates a database: receives every commit's frames and ships them, as segments and
/// snapshots, to the configured replicas.
///
/// Create one with ``Stream/observer(_:)`` (as an entry of `DB.Options.pageFlushObservers`) or
/// ``Stream/attach(to:config:)`` (an already open database). Stop it with ``stop()``, which
/// flushes what it can within the configured shutdown timeout.
public final class StreamController: PageFlushObserver, Sendable {
    let config: StreamConfig
    let shadow: ShadowLog
    let databaseID: String
    let source: any SnapshotSource
    let queue: StreamControllerQueue
    let shared: Mutex<Shared>
    let uploaders: [Uploader]
    let metrics: StreamMetrics
    let logger = Logger(label: "witchbolt.stream")
    let hooks: StreamHooks
    private let writerDone = DispatchSemaphore(value: 0)
    private let stopped = Mutex(false)
    private let detachAction = Mutex<(@Sendable () -> Void)?>(nil)

    /// Builds a controller over `source` and starts its threads. `justRestored` forces a new
    /// generation (restore-on-open just rebuilt the file).
    init(config: StreamConfig, source: any SnapshotSource, justRestored: Bool = false, hooks: StreamHooks = StreamHooks()) throws {
        try config.validate()
        self.config = config
        self.shadow = ShadowLog(root: config.shadowDirectory)
        self.source = source
        self.hooks = hooks
        self.queue = StreamControllerQueue(capacity: config.queueCapacity, byteCapacity: config.queueByteCapacity)

        // The shadow directory must at least exist to know the database id; failing here is
        // the only way a broken shadow directory fails the open.
        try shadow.prepare()
        self.databaseID = try shadow.databaseID()

        let clients = try config.replicas.map { try $0.makeClient() }
        let names = config.replicas.map(\.description)
        self.metrics = StreamMetrics(replicaNames: names)
        var progress: [ReplicaProgress] = []
        for (index, name) in names.enumerated() {
            var p = ReplicaProgress(name: name)
            if let cursor = shadow.loadCursor(replica: index), cursor.replica == name {
                p.cursor = cursor.position
                p.lastTxID = cursor.lastTxID
                p.generation = cursor.position?.generation
            } else {
                p.needsBase = true
            }
            progress.append(p)
        }
        self.shared = Mutex(Shared(replicas: progress))
        self.uploaders = clients.enumerated().map { Uploader(index: $0.offset, client: $0.element) }

        let log = ShadowLog(root: config.shadowDirectory)
        let existing = log.listArtefacts { path, error in
            Logger(label: "witchbolt.stream").warning("removing unreadable shadow artefact \(path): \(error)")
            ShadowFileIO.remove(path)
        }
        shared.withLock { $0.outbox = existing }

        // Start the threads: the writer decides the generation first; uploaders check their
        // replica for newer state before shipping anything.
        let previous = shadow.loadState()
        let openLog = previous.map { ShadowOpenLog.tail(path: shadow.openLogPath, after: $0.lastTxID) } ?? []
        let plan = resumePlan(source: source, previous: previous, openLog: openLog, justRestored: justRestored)
        if case .resume(let generation, let lastTxID, _, _, _, _) = plan {
            shared.withLock { s in
                s.generation = generation
                s.lastTxID = lastTxID
                s.generationReason = "continued after a restart at txid \(lastTxID)"
            }
        }
        let writer = Thread { [self] in
            self.runWriter(plan: plan, previousGeneration: previous.flatMap { Generation(rawValue: $0.generation) })
            self.writerDone.signal()
        }
        writer.name = "witchbolt.stream.writer"
        writer.start()
        for uploader in uploaders {
            let thread = Thread { [self] in self.runUploader(uploader) }
            thread.name = "witchbolt.stream.uploader.\(uploader.index)"
            thread.start()
        }
    }

    /// Receives a commit's frames: enqueues them and returns. Never blocks, never fails the commit.
    public func didFlush(_ info: PageFlushInfo) throws {
        if !queue.offer(info) {
            metrics.droppedCommits.increment()
        }
    }

    /// The current position, lag and errors of every replica.
    public func status() -> StreamStatus {
        let now = config.clock.nowMillis
        let queued = queue.oldestTimestampMillis
        return shared.withLock { s in s.status(databaseID: databaseID, nowMillis: now, queuedOldestMillis: queued, droppedCommits: queue.droppedCount) }
    }

    /// The data-loss window: how old the oldest commit is that some replica does not hold.
    public var dataLossWindow: Duration { .milliseconds(status().dataLossWindowMillis) }

    /// The highest txid that every replica has confirmed holding (the smallest of the
    /// replicas' last shipped txids), or nil while some replica holds none yet (and without
    /// replicas). A commit whose txid is at most this value is on every replica.
    ///
    /// Cheaper than ``status()`` (one lock, no lag computation), so that a benchmark can poll
    /// it every few milliseconds to time each commit's replication lag.
    public var confirmedTxID: UInt64? {
        shared.withLock { s in
            var lowest: UInt64?
            for replica in s.replicas {
                guard let txID = replica.lastTxID else { return nil }
                lowest = min(lowest ?? txID, txID)
            }
            return lowest
        }
    }

    /// Seals what is pending now and waits (in real time, up to `timeout`) until every
    /// replica holds every commit received so far. Returns whether they all caught up.
    @discardableResult
    public func flush(timeout: Duration = .seconds(30)) -> Bool {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        let target = queue.lastOfferedTxID
        shared.withLock { $0.sealRequested = true }
        queue.poke()
        while true {
            let caughtUp = queue.isEmpty && shared.withLock { s in
                s.isCaughtUp && (target.map { t in (s.lastTxID ?? 0) >= t } ?? true)
            }
            if caughtUp { return true }
            if shared.withLock({ !$0.sealRequested && $0.unsealedCount > 0 }) {
                shared.withLock { $0.sealRequested = true }
                queue.poke()
            }
            if Date() >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    /// Stops the controller: no more commits are taken, what is queued is sealed, and the
    /// replicas get up to the shutdown timeout to receive it. Logs and returns what was not
    /// shipped. Calling it again returns the same kind of report without waiting.
    @discardableResult
    public func stop() -> StreamShutdownReport {
        let first = stopped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first {
            if let detach = detachAction.withLock({ $0 }) { detach() }
            queue.close()
            let deadline = Date().addingTimeInterval(config.shutdownTimeout.seconds)
            shared.withLock { s in
                s.stopping = true
                s.stopDeadline = deadline
            }
            queue.poke()
            _ = writerDone.wait(timeout: .now() + max(0, deadline.timeIntervalSinceNow) + 1)
            for uploader in uploaders { uploader.signal.wake() }
            for uploader in uploaders {
                _ = uploader.done.wait(timeout: .now() + max(0, deadline.timeIntervalSinceNow) + 1)
                uploader.client.close()
            }
            try? StatusFile.write(status(), to: shadow.statusPath)
        }
        let report = shared.withLock { $0.shutdownReport() }
        if first {
            if report.isComplete {
                logger.info("stream stopped: \(report)")
            } else {
                logger.warning("stream stopped with data not shipped: \(report)")
            }
        }
        return report
    }

    /// Detaches from the database (when attached with ``Stream/attach(to:config:)``) and stops.
    @discardableResult
    public func detach() -> StreamShutdownReport { stop() }

    func setDetachAction(_ action: @escaping @Sendable () -> Void) {
        detachAction.withLock { $0 = action }
    }

    /// Simulates a crash: threads stop at once, nothing more is sealed or shipped (tests).
    func abandon() {
        stopped.withLock { $0 = true }
        queue.close()
        shared.withLock { $0.abandoned = true }
        queue.poke()
        _ = writerDone.wait(timeout: .now() + 10)
        for uploader in uploaders {
            uploader.signal.wake()
            _ = uploader.done.wait(timeout: .now() + 10)
        }
    }
}

/// Test-only fault injection in the stream (failpoints).
struct StreamHooks: Sendable {
    /// Called by the writer before it takes a commit; returning false makes the writer stop
    /// dead, as if the process crashed between the commit and the shadow write.
    var beforeShadowWrite: (@Sendable (UInt64) -> Bool)?
    /// Called by the writer before it writes anything to the shadow directory; a thrown error
    /// stands for a full or unwritable disk.
    var shadowWrite: (@Sendable () throws -> Void)?
    /// Called after every fdatasync of the open segment's log (`SHADOW/open.log`).
    var openLogSynced: (@Sendable () -> Void)?

    init(beforeShadowWrite: (@Sendable (UInt64) -> Bool)? = nil, shadowWrite: (@Sendable () throws -> Void)? = nil,
         openLogSynced: (@Sendable () -> Void)? = nil) {
        self.beforeShadowWrite = beforeShadowWrite
        self.shadowWrite = shadowWrite
        self.openLogSynced = openLogSynced
    }
}
