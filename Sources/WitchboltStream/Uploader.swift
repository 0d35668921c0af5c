// Licensed under the Apache License, Version 2.0.
//
// One uploader thread per replica. Each ships the outbox in order at its own pace: a slow or
// unreachable replica delays only itself, never a commit and never another replica. Before
// shipping anything it lists the replica once, so a replica holding a newer position than
// the local database gets a new generation instead of being overwritten. A failed upload is
// retried with exponential backoff (on the injected clock). An upload counts once the
// replica lists the object with the size written. Between uploads, the thread applies
// retention to its replica every check interval.

import Foundation
import Logging
import Metrics
import Synchronization

/// A replica's uploader: its client and the signals its thread waits on.
final class Uploader: Sendable {
    let index: Int
    let client: any ReplicaClient
    let signal = WakeSignal()
    let done = DispatchSemaphore(value: 0)

    init(index: Int, client: any ReplicaClient) {
        self.index = index
        self.client = client
    }
}

extension StreamController {
    func runUploader(_ uploader: Uploader) {
        defer { uploader.done.signal() }
        let clock = config.clock
        let retention = ReplicaRetention(logger: logger)
        var delay = config.initialRetryDelay
        var nextAttempt: Duration = .zero
        var nextRetention = clock.now + config.retention.checkInterval
        var reported = false

        while true {
            let (abandoned, stopping, deadline, writerFinished, checked) = shared.withLock { s in
                (s.abandoned, s.stopping, s.stopDeadline, s.writerFinished, s.replicas[uploader.index].checked)
            }
            if abandoned { return }
            if stopping, let deadline, Date() >= deadline { return }
            let now = clock.now
            if now < nextAttempt {
                uploader.signal.wait(timeout: stopping ? 0.005 : min(clock.waitTime(until: nextAttempt), 0.25))
                continue
            }

            // First, learn what the replica holds (once), and wait for the writer's verdict.
            if !checked {
                if reported {
                    if stopping && writerFinished { return }
                    uploader.signal.wait(timeout: 0.05)
                    continue
                }
                do {
                    let report = try inspect(uploader)
                    shared.withLock { $0.remoteReports.append(report) }
                    queue.poke()
                    reported = true
                    delay = config.initialRetryDelay
                } catch {
                    failed(uploader, error: error, delay: &delay, nextAttempt: &nextAttempt, what: "list")
                    if stopping && writerFinished { return }
                }
                continue
            }

            // Then ship the next artefact in order, or rest until there is one.
            guard let artefact = shared.withLock({ $0.nextArtefact(for: uploader.index) }) else {
                if stopping && writerFinished { return }
                if now >= nextRetention {
                    nextRetention = now + config.retention.checkInterval
                    runRetention(uploader, retention: retention)
                    continue
                }
                uploader.signal.wait(timeout: stopping ? 0.005 : min(clock.waitTime(until: nextRetention), 0.25))
                continue
            }
            do {
                let bytes = try ship(artefact, with: uploader)
                delay = config.initialRetryDelay
                let cursor = shared.withLock { s -> ReplicaCursor in
                    var r = s.replicas[uploader.index]
                    if r.needsBase && artefact.kind == .snapshot { r.needsBase = false }
                    r.cursor = artefact.position
                    r.lastTxID = artefact.maxTxID
                    r.generation = artefact.generation.rawValue
                    r.lastSuccessAtMillis = clock.nowMillis
                    r.lastError = nil
                    r.bytes += bytes
                    r.objects += 1
                    s.replicas[uploader.index] = r
                    return ReplicaCursor(replica: r.name, position: r.cursor, lastTxID: r.lastTxID)
                }
                metrics.replicas[uploader.index].bytes.increment(by: Int64(bytes))
                metrics.replicas[uploader.index].objects.increment()
                try? shadow.saveCursor(cursor, replica: uploader.index)
                queue.poke()
            } catch {
                failed(uploader, error: error, delay: &delay, nextAttempt: &nextAttempt, what: "upload \(artefact.key) to")
            }
        }
    }

    /// Lists the replica: its newest generation and the last txid in it.
    private func inspect(_ uploader: Uploader) throws -> RemoteState {
        var newest: Generation?
        var maxTxID: UInt64?
        for object in try uploader.client.list(prefix: ArtefactKey.generationsPrefix) {
            guard let parsed = ArtefactKey.parse(object.key) else { continue }
            let generation = parsed.generation
            let txID: UInt64
            switch parsed {
            case .snapshot(_, let t): txID = t
            case .segment(_, _, let t): txID = t
            }
            if newest.map({ generation > $0 }) ?? true {
                newest = generation
                maxTxID = txID
            } else if generation == newest {
                maxTxID = max(maxTxID ?? 0, txID)
            }
        }
        return RemoteState(replica: uploader.index, newestGeneration: newest, maxTxID: maxTxID)
    }

    /// Uploads one artefact, verified on the way out, and confirms it by the size the replica lists.
    private func ship(_ artefact: ShadowArtefact, with uploader: Uploader) throws -> Int64 {
        let path = shadow.path(of: artefact)
        let client = uploader.client
        let size: Int64
        switch artefact.kind {
        case .segment:
            // Its header, trailer and file checksum: the body was checked record by record
            // when it was sealed, and the file checksum shows any change since.
            let bytes = try ShadowFileIO.read(path)
            _ = try SegmentFile.envelope(bytes, name: path)
            size = Int64(bytes.count)
            try client.write(key: artefact.key, from: .bytes(bytes))
        case .snapshot:
            _ = try SnapshotReader(path: path, name: path).header
            guard let s = ShadowFileIO.size(of: path) else { throw StreamError(.io, "\(path): snapshot vanished before upload") }
            size = s
            try client.write(key: artefact.key, from: .file(path: path))
        }
        let listed = try client.list(prefix: artefact.key).first { $0.key == artefact.key }
        guard let listed, listed.size == size else {
            throw StreamError(.unavailable, "\(client.description): \(artefact.key) lists \(listed.map { "\($0.size) bytes" } ?? "as missing") after writing \(size) bytes")
        }
        return size
    }

    private func failed(_ uploader: Uploader, error: any Error, delay: inout Duration, nextAttempt: inout Duration, what: String) {
        let message = "\(error)"
        let name = uploader.client.description
        logger.warning("cannot \(what) replica \(name): \(message); retrying in \(delay)")
        shared.withLock { s in
            s.replicas[uploader.index].errors += 1
            s.replicas[uploader.index].retries += 1
            s.replicas[uploader.index].lastError = message
            s.replicas[uploader.index].lastErrorAtMillis = config.clock.nowMillis
        }
        metrics.replicas[uploader.index].errors.increment()
        metrics.replicas[uploader.index].retries.increment()
        nextAttempt = config.clock.now + delay
        delay = min(delay * 2, config.maxRetryDelay)
    }

    private func runRetention(_ uploader: Uploader, retention: ReplicaRetention) {
        let current = shared.withLock { $0.generation }
        do {
            try retention.run(client: uploader.client, nowMillis: config.clock.nowMillis, window: config.retention.window, current: current)
        } catch {
            logger.warning("retention on replica \(uploader.client.description) failed: \(error)")
            shared.withLock { s in
                s.replicas[uploader.index].errors += 1
                s.replicas[uploader.index].lastError = "retention: \(error)"
                s.replicas[uploader.index].lastErrorAtMillis = config.clock.nowMillis
            }
        }
    }
}
