// Licensed under the Apache License, Version 2.0.
//
// The writer thread: the one place that decides generations and keeps the running
// whole-database checksum. It takes commits from the queue, checks that each follows the
// last (a gap, a reordering, an overflow, a failed write: new generation), computes each
// record's checksum, seals the open segment every sync interval or size limit, asks for
// snapshots (at each generation start and every snapshot interval), and keeps the shadow
// directory pruned and within its size bound.
//
// While a snapshot runs, commits keep arriving; they are held until it finishes, because
// their checksums depend on it: records up to the snapshot's txid continue the old chain,
// records after it continue from the snapshot's image (see Snapshotter.swift). A segment
// never spans a snapshot's txid.

import Foundation
import Synchronization
import Logging
import Metrics
import Witchbolt

/// What a snapshot job was for.
enum SnapshotJobKind: Sendable {
    /// The first snapshot of a new generation.
    case base(reason: String)
    /// A snapshot inside the current generation, every snapshot interval.
    case periodic
}

/// How the writer resumes when the controller starts.
enum ResumePlan: Sendable {
    /// The database is exactly where the shadow log left it: the generation goes on.
    /// `unsealed` are the records of the open segment's log after the last sealed txid.
    case resume(generation: Generation, lastTxID: UInt64, lastTimestampMillis: Int64, pageSize: Int, checksum: DatabaseChecksum, unsealed: [TransactionRecord])
    /// A new generation, for this reason.
    case newGeneration(reason: String)
}

/// A finished snapshot job.
struct SnapshotJobResult: Sendable {
    var kind: SnapshotJobKind
    var generation: Generation
    var outcome: Result<SnapshotOutcome, any Error>
}

/// The writer thread's own state (never shared).
struct WriterState {
    var generation: Generation?
    var checksum: DatabaseChecksum?
    var lastTxID: UInt64?
    var lastTimestamp: Int64 = .min
    var pageSize = 0
    /// The records appended since the last seal, encoded.
    var open: OpenSegment
    /// Seals the open segment (its codec contexts and buffers kept between seals).
    let sealer: SegmentSealer
    var held: [PageFlushInfo] = []
    var job: SnapshotJobKind?
    var rotateReason: String?
    var retryAt: Duration = .zero
    var retryDelay: Duration
    var nextSeal: Duration
    var nextSnapshot: Duration
    var nextRetention: Duration
    var lastLagWarning: Duration?
    /// The newest generation id seen anywhere (shadow state, outbox, replicas): a new
    /// generation's id must sort after it.
    var newestSeen: Generation?
    /// The commit time of the oldest commit dropped by a rotation, until the new
    /// generation's base snapshot covers it (it counts in the data-loss window).
    var uncoveredSince: Int64?
    /// The open segment's durable log (nil when it cannot be opened: the shadow directory is broken).
    var openLog: ShadowOpenLog?
}

extension StreamController {
    func runWriter(plan: ResumePlan, previousGeneration: Generation?) {
        let clock = config.clock
        let now = clock.now
        // Segment buffers are kept between seals up to a few segments' worth: a segment is
        // sealed once it reaches the size limit, so it exceeds it by at most one commit.
        let keptCapacity = max(64 << 20, 4 * config.segmentSizeLimit)
        var w = WriterState(
            open: OpenSegment(keptCapacity: keptCapacity),
            sealer: SegmentSealer(shadow: shadow, databaseID: databaseID, codec: config.effectiveCodec, keptCapacity: keptCapacity),
            retryDelay: config.initialRetryDelay, nextSeal: now + config.syncInterval,
            nextSnapshot: now + config.snapshotInterval, nextRetention: now + config.retention.checkInterval)

        w.newestSeen = ([previousGeneration] + shared.withLock { $0.outbox.map(\.generation) }).compactMap { $0 }.max()

        // Resume the generation the controller's start found intact (with the open segment's
        // records from its log, sealed first), or start a new one.
        do {
            w.openLog = try ShadowOpenLog(path: shadow.openLogPath, didSync: hooks.openLogSynced)
        } catch {
            logger.error("cannot open the shadow log \(shadow.openLogPath): \(error)")
        }
        switch plan {
        case .resume(let generation, let lastTxID, let lastTimestamp, let pageSize, let checksum, let unsealed):
            w.generation = generation
            w.checksum = checksum
            w.lastTxID = lastTxID
            w.lastTimestamp = lastTimestamp
            w.pageSize = pageSize
            // The log's records decoded, so they encode again; if one did not, the chain
            // could not go on, and a new generation starts instead.
            do {
                for record in unsealed { try w.open.append(record) }
            } catch {
                rotate("the shadow log's unsealed records cannot be encoded: \(error)", state: &w, sealFirst: false)
                break
            }
            logger.info("continuing generation \(generation) at txid \(lastTxID)\(unsealed.isEmpty ? "" : " (\(unsealed.count) unsealed commits recovered from the shadow log)")")
            publishUnsealed(state: &w)
        case .newGeneration(let reason):
            try? w.openLog?.reset()
            w.rotateReason = reason
            publishUnsealed(state: &w)
        }

        while true {
            let flags = shared.withLock { ($0.abandoned, $0.stopping, $0.stopDeadline) }
            if flags.0 { return }

            // Take a finished snapshot first, then what the commit path queued: every commit
            // the snapshot contains was queued before its result was posted, so this drain
            // holds them all, and they are in place before the result is applied.
            let result = shared.withLock { s -> SnapshotJobResult? in defer { s.snapshotResult = nil }; return s.snapshotResult }
            let deadline = min(w.nextSeal, w.nextSnapshot, w.nextRetention)
            let timeout = result != nil ? 0 : flags.1 ? 0.005 : min(clock.waitTime(until: deadline), 0.25)
            let (items, overflowed) = queue.drain(timeout: timeout)
            for info in items {
                if let hook = hooks.beforeShadowWrite, !hook(info.txID) {
                    shared.withLock { $0.abandoned = true }
                    return
                }
                take(info, state: &w)
                // A long drain (the writer fell behind) still seals at the size limit.
                if w.open.byteCount >= config.segmentSizeLimit {
                    seal(state: &w)
                    pruneShadow(state: &w)
                }
            }
            if config.shadowLogSync == .everyBatch { syncOpenLog(state: &w) }
            if overflowed {
                rotate("the queue overflowed: commits arrived faster than the shadow writer took them", state: &w)
            }

            // The finished snapshot, replicas' startup reports, pending rotations.
            if let result { complete(result, state: &w) }
            handleRemoteReports(state: &w)
            let now = clock.now
            if let reason = w.rotateReason, w.job == nil, now >= w.retryAt {
                startGeneration(reason: reason, state: &w)
            }

            // Seal every sync interval, at the size limit, or on request.
            let sealRequested = shared.withLock { $0.sealRequested }
            if now >= w.nextSeal || w.open.byteCount >= config.segmentSizeLimit || sealRequested {
                seal(state: &w)
                w.nextSeal = now + config.syncInterval
                pruneShadow(state: &w)
                publishStatus(state: &w)
                if sealRequested { shared.withLock { $0.sealRequested = false } }
            }

            // Periodic snapshots, and a fresh base for a replica that needs one.
            if w.job == nil, w.rotateReason == nil, w.checksum != nil, w.generation != nil {
                if now >= w.nextSnapshot || replicaNeedsBase() {
                    w.nextSnapshot = now + config.snapshotInterval
                    launch(.periodic, generation: w.generation!, state: &w)
                }
            }
            if now >= w.nextRetention {
                w.nextRetention = now + config.retention.checkInterval
                if uploaders.isEmpty { applyShadowRetention(state: &w) }
            }

            // Stopping: drain, wait (within the deadline) for a running snapshot, seal, leave.
            // Whatever the seal did not take (it failed) is synced in the open log, so a
            // clean stop leaves the shadow log durable under either sync policy.
            if flags.1 && queue.isEmpty {
                let pastDeadline = flags.2.map { Date() >= $0 } ?? true
                if w.job == nil || pastDeadline {
                    seal(state: &w)
                    syncOpenLog(state: &w)
                    pruneShadow(state: &w)
                    shared.withLock { $0.writerFinished = true }
                    publishStatus(state: &w)
                    wakeUploaders()
                    return
                }
            }
        }
    }

    // MARK: Commits

    /// Takes one commit: holds it while a snapshot runs, drops it while a new generation
    /// waits for its base (the base snapshot will contain it), else appends it.
    private func take(_ info: PageFlushInfo, state w: inout WriterState) {
        if w.job != nil {
            if let last = w.held.last, info.parentTxID != last.txID {
                rotate("txid \(info.txID) (parent \(info.parentTxID)) arrived after txid \(last.txID)", state: &w)
                return
            }
            w.held.append(info)
            publishUnsealed(state: &w)
            return
        }
        guard w.checksum != nil else { return }
        append(info, state: &w)
    }

    /// Appends a commit that must follow the chain; a gap or reordering starts a new generation.
    private func append(_ info: PageFlushInfo, state w: inout WriterState) {
        guard let last = w.lastTxID, info.parentTxID == last, info.txID == last &+ 1, w.checksum != nil else {
            let expected = w.lastTxID.map { "txid \($0 + 1)" } ?? "a snapshot"
            rotate("txid \(info.txID) (parent \(info.parentTxID)) does not follow the chain (expected \(expected))", state: &w)
            return
        }
        // Commit times never go backwards within a generation.
        let timestamp = max(info.timestampMillis, w.lastTimestamp)
        var record = TransactionRecord(
            txID: info.txID, parentTxID: info.parentTxID, timestampMillis: timestamp,
            pageSize: UInt32(info.pageSize), highWaterMark: info.highWaterMark, frames: info.frames,
            databaseChecksum: 0)
        w.checksum!.apply(record)
        record.databaseChecksum = w.checksum!.value
        do {
            try hooks.shadowWrite?()
            let range = try w.open.append(record)
            try w.openLog?.append(encoded: w.open.payload[range], pageSize: record.pageSize)
        } catch {
            shadowFailed(error, state: &w)
            return
        }
        w.lastTxID = info.txID
        w.lastTimestamp = timestamp
        w.pageSize = info.pageSize
        shared.withLock { $0.lastTxID = info.txID }
        publishUnsealed(state: &w)
    }

    // MARK: Generations

    /// Ends the current chain: seals what it holds (it is valid up to its last record) and
    /// asks for a new generation, whose base snapshot will cover every commit dropped here.
    func rotate(_ reason: String, state w: inout WriterState, sealFirst: Bool = true) {
        if sealFirst { seal(state: &w) }
        let dropped = [w.open.first?.timestampMillis, w.held.first?.timestampMillis, w.uncoveredSince].compactMap { $0 }.min()
        w.uncoveredSince = dropped ?? config.clock.nowMillis
        try? w.openLog?.reset()
        w.open.removeAll()
        w.held = []
        w.checksum = nil
        w.lastTxID = nil
        if w.rotateReason == nil { w.rotateReason = reason }
        publishUnsealed(state: &w)
    }

    private func newGeneration(after previous: Generation?) -> Generation {
        var millis = config.clock.nowMillis
        if let previous, millis <= previous.createdMillis { millis = previous.createdMillis + 1 }
        return Generation.new(nowMillis: millis)
    }

    private func noteSeen(_ generation: Generation?, state w: inout WriterState) {
        guard let generation else { return }
        if w.newestSeen.map({ generation > $0 }) ?? true { w.newestSeen = generation }
    }

    private func startGeneration(reason: String, state w: inout WriterState) {
        noteSeen(w.generation, state: &w)
        let generation = newGeneration(after: w.newestSeen)
        w.newestSeen = generation
        logger.notice("starting generation \(generation) of \(config.shadowDirectory): \(reason)")
        w.rotateReason = nil
        publishUnsealed(state: &w)
        launch(.base(reason: reason), generation: generation, state: &w)
    }

    /// Runs a snapshot job on its own thread; its result comes back through `Shared`.
    private func launch(_ kind: SnapshotJobKind, generation: Generation, state w: inout WriterState) {
        w.job = kind
        shared.withLock { $0.snapshotInFlight = true }
        let snapshotter = Snapshotter(shadow: shadow, databaseID: databaseID, codec: config.effectiveCodec)
        let floor = w.lastTimestamp
        let thread = Thread { [self] in
            let outcome = Result<SnapshotOutcome, any Error> {
                try hooks.shadowWrite?()
                return try snapshotter.run(source: source, generation: generation) { _ in
                    max(self.config.clock.nowMillis, floor)
                }
            }
            shared.withLock { $0.snapshotResult = SnapshotJobResult(kind: kind, generation: generation, outcome: outcome) }
            queue.poke()
        }
        thread.name = "witchbolt.stream.snapshot"
        thread.start()
    }

    private func complete(_ result: SnapshotJobResult, state w: inout WriterState) {
        w.job = nil
        shared.withLock { $0.snapshotInFlight = false }
        let held = w.held
        w.held = []
        defer { publishUnsealed(state: &w) }

        // A rotation requested while the job ran wins: its base will be newer.
        if w.rotateReason != nil {
            if case .success(let outcome) = result.outcome, let artefact = outcome.artefact {
                ShadowFileIO.remove(shadow.path(of: artefact))
            }
            publishUnsealed(state: &w)
            return
        }

        switch result.outcome {
        case .failure(let error):
            logger.error("snapshot of \(config.shadowDirectory) failed: \(error)")
            shared.withLock { $0.shadowError = "snapshot failed: \(error)" }
            if case .periodic = result.kind {
                for info in held { append(info, state: &w) }
                return
            }
            w.retryAt = config.clock.now + w.retryDelay
            w.retryDelay = min(w.retryDelay * 2, config.maxRetryDelay)
            rotate("the previous snapshot failed: \(error)", state: &w, sealFirst: false)

        case .success(let outcome):
            w.retryDelay = config.initialRetryDelay
            switch result.kind {
            case .periodic:
                // Records up to the snapshot close the old chain in their own segment; the
                // checksum then restarts from the snapshot's image.
                for info in held where info.txID <= outcome.txID { append(info, state: &w) }
                seal(state: &w)
                guard let artefact = outcome.artefact, w.lastTxID == outcome.txID, w.rotateReason == nil else {
                    if let artefact = outcome.artefact { ShadowFileIO.remove(shadow.path(of: artefact)) }
                    if w.rotateReason == nil { rotate("snapshot at txid \(outcome.txID) does not follow the chain", state: &w) }
                    return
                }
                w.checksum = outcome.checksum
                shared.withLock { $0.insert(artefact) }
                wakeUploaders()
                for info in held where info.txID > outcome.txID { append(info, state: &w) }

            case .base(let reason):
                // A new generation's base: commits it contains are dropped, later ones follow it.
                guard let artefact = outcome.artefact else { return }
                w.generation = result.generation
                w.checksum = outcome.checksum
                w.lastTxID = outcome.txID
                w.lastTimestamp = artefact.lastTimestampMillis
                w.pageSize = outcome.pageSize
                w.nextSnapshot = config.clock.now + config.snapshotInterval
                shared.withLock { s in
                    s.generation = result.generation
                    s.lastTxID = max(s.lastTxID ?? 0, outcome.txID)
                    s.generationReason = reason
                    s.generationsStarted += 1
                    s.shadowError = nil
                    s.insert(artefact)
                }
                metrics.generations.increment()
                w.uncoveredSince = nil
                saveState(state: w)
                wakeUploaders()
                for info in held where info.txID > outcome.txID { append(info, state: &w) }
            }
        }
    }

    /// Replicas that hold a newer position than the local database get a new generation
    /// (their newer one is left untouched) and ship from its base.
    private func handleRemoteReports(state w: inout WriterState) {
        let reports = shared.withLock { s -> [RemoteState] in defer { s.remoteReports = [] }; return s.remoteReports }
        guard !reports.isEmpty else { return }
        let localGeneration = w.generation
        for report in reports {
            noteSeen(report.newestGeneration, state: &w)
            let name = config.replicas[report.replica].description
            var newer = false
            if let remote = report.newestGeneration {
                if let local = localGeneration {
                    newer = remote > local || (remote == local && (report.maxTxID ?? 0) > (w.lastTxID ?? 0))
                } else {
                    newer = false
                }
            }
            if newer {
                logger.warning("replica \(name) holds generation \(report.newestGeneration!) up to txid \(report.maxTxID ?? 0), newer than the local database: starting a new generation and leaving it untouched")
                rotate("replica \(name) holds a newer position than the local database", state: &w)
            }
            shared.withLock { s in
                if newer { s.replicas[report.replica].needsBase = true }
                s.replicas[report.replica].checked = true
            }
        }
        wakeUploaders()
    }

    private func replicaNeedsBase() -> Bool {
        shared.withLock { s in
            s.replicas.indices.contains { i in
                s.replicas[i].checked && s.replicas[i].needsBase && !s.pending(for: i).contains { $0.kind == .snapshot }
            }
        }
    }

    // MARK: Sealing and the shadow directory

    /// Seals the open segment's records into a segment. A failure (full or unwritable disk) never
    /// reaches a commit: the records are dropped and a new generation will start when the
    /// shadow directory takes writes again.
    func seal(state w: inout WriterState) {
        guard let last = w.open.last, let generation = w.generation else { return }
        do {
            try hooks.shadowWrite?()
            let artefact = try w.sealer.seal(generation: generation, pageSize: w.pageSize, segment: w.open)
            w.open.removeAll()
            shared.withLock { s in
                s.insert(artefact)
                s.shadowError = nil
            }
            try shadow.saveState(ShadowState(generation: generation.rawValue, lastTxID: last.txID, lastTimestampMillis: last.timestampMillis, pageSize: w.pageSize, databaseChecksum: last.databaseChecksum))
            // Every record the log drops is at most last.txID, now durable in state.json: the
            // truncation is synced with the log's next sync, not here (ShadowOpenLog.reset).
            try w.openLog?.reset(durable: false)
            wakeUploaders()
        } catch {
            shadowFailed(error, state: &w)
        }
        publishUnsealed(state: &w)
    }

    /// Makes the records appended since the last call durable (one fdatasync): after every
    /// batch with `ShadowLogSync.everyBatch`, and when the stream stops.
    private func syncOpenLog(state w: inout WriterState) {
        do {
            try w.openLog?.sync()
        } catch {
            shadowFailed(error, state: &w)
        }
    }

    /// A write to the shadow directory failed (full or unwritable disk): never the commit's
    /// problem. What it holds is dropped, and a new generation starts once it takes writes again.
    private func shadowFailed(_ error: any Error, state w: inout WriterState) {
        logger.error("cannot write the shadow log in \(config.shadowDirectory): \(error)")
        shared.withLock { $0.shadowError = "\(error)" }
        w.retryAt = config.clock.now + w.retryDelay
        w.retryDelay = min(w.retryDelay * 2, config.maxRetryDelay)
        rotate("the shadow directory could not be written: \(error)", state: &w, sealFirst: false)
    }

    private func saveState(state w: WriterState) {
        guard let generation = w.generation, let last = w.lastTxID else { return }
        do {
            try shadow.saveState(ShadowState(generation: generation.rawValue, lastTxID: last, lastTimestampMillis: w.lastTimestamp, pageSize: w.pageSize, databaseChecksum: w.checksum?.value))
        } catch {
            logger.error("cannot write the shadow state in \(config.shadowDirectory): \(error)")
        }
    }

    /// Deletes what every replica has received, and enforces the shadow directory's size bound.
    private func pruneShadow(state w: inout WriterState) {
        let (shipped, total) = shared.withLock { s -> ([ShadowArtefact], Int64) in
            guard !s.replicas.isEmpty else { return ([], s.outbox.reduce(0) { $0 + $1.size }) }
            let shipped = s.outbox.filter { a in s.replicas.allSatisfy { $0.has(a.position) } }
            let keys = Set(shipped.map(\.key))
            s.outbox.removeAll { keys.contains($0.key) }
            return (shipped, s.outbox.reduce(0) { $0 + $1.size })
        }
        for artefact in shipped { ShadowFileIO.remove(shadow.path(of: artefact)) }
        if !shipped.isEmpty { shadow.removeEmptyGenerationDirectories(olderThan: [w.generation, w.newestSeen].compactMap { $0 }.min()) }

        // Past the size bound, drop what is waiting and resume with a new generation.
        guard total > config.shadowDirectoryLimit else { return }
        let dropped = shared.withLock { s -> [ShadowArtefact] in
            let dropped = s.outbox
            s.outbox = []
            for i in s.replicas.indices { s.replicas[i].needsBase = true }
            return dropped
        }
        for artefact in dropped { ShadowFileIO.remove(shadow.path(of: artefact)) }
        shadow.removeEmptyGenerationDirectories(olderThan: [w.generation, w.newestSeen].compactMap { $0 }.min())
        logger.error("the shadow directory \(config.shadowDirectory) holds \(total) bytes, over its limit of \(config.shadowDirectoryLimit): dropped \(dropped.count) unshipped artefacts")
        rotate("the shadow directory went over its size limit (a replica is behind)", state: &w)
    }

    /// With no replica, the shadow directory keeps history under the retention policy.
    private func applyShadowRetention(state w: inout WriterState) {
        let items = shared.withLock { s in
            s.outbox.map { RetentionItem(key: $0.key, generation: $0.generation, isSnapshot: $0.kind == .snapshot, minTxID: $0.minTxID, maxTxID: $0.maxTxID, timestampMillis: $0.lastTimestampMillis) }
        }
        let doomed = Set(Retention.plan(items: items, nowMillis: config.clock.nowMillis, window: config.retention.window, current: w.generation))
        guard !doomed.isEmpty else { return }
        shared.withLock { $0.outbox.removeAll { doomed.contains($0.key) } }
        for key in doomed { ShadowFileIO.remove(shadow.path(ofKey: key)) }
        shadow.removeEmptyGenerationDirectories(olderThan: [w.generation, w.newestSeen].compactMap { $0 }.min())
    }

    // MARK: Status

    private func publishUnsealed(state w: inout WriterState) {
        let oldest = [w.open.first?.timestampMillis, w.held.first?.timestampMillis, w.uncoveredSince].compactMap { $0 }.min()
        let count = w.open.count + w.held.count
        let rotating = w.rotateReason != nil
        shared.withLock { s in
            s.unsealedCount = count
            s.oldestUnsealedMillis = oldest
            s.rotationPending = rotating
        }
    }

    /// Writes the status file and metrics, and warns past the data-loss window threshold.
    private func publishStatus(state w: inout WriterState) {
        let status = status()
        metrics.record(status)
        do {
            try StatusFile.write(status, to: shadow.statusPath)
        } catch {
            logger.debug("cannot write \(shadow.statusPath): \(error)")
        }
        if let threshold = config.dataLossWindowThreshold, status.dataLossWindowMillis > threshold.milliseconds {
            let now = config.clock.now
            if w.lastLagWarning.map({ now - $0 >= .seconds(60) }) ?? true {
                w.lastLagWarning = now
                let behind = status.replicas.filter { $0.lagMillis > threshold.milliseconds }.map(\.name).joined(separator: ", ")
                logger.warning("data-loss window \(StreamStatus.format(millis: status.dataLossWindowMillis)) exceeds \(StreamStatus.format(millis: threshold.milliseconds)) (behind: \(behind.isEmpty ? "unsealed commits" : behind))")
            }
        }
    }

    func wakeUploaders() {
        for uploader in uploaders { uploader.signal.wake() }
    }
}
