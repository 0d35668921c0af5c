// Licensed under the Apache License, Version 2.0.
//
// The state the controller's threads share, behind one mutex: the outbox of sealed artefacts
// in shipping order, each replica's progress through it, what the writer still holds, and the
// requests the threads pass each other (seal now, stop, start a new generation). Every lag
// figure is computed here, from one consistent view.

import Foundation

/// One replica's progress.
struct ReplicaProgress: Sendable {
    var name: String
    /// The last artefact it received, in shipping order.
    var cursor: ShipPosition?
    var lastTxID: UInt64?
    var generation: String?
    /// It must start from a snapshot: artefacts before the next snapshot are skipped (a new
    /// replica, one that holds newer state, or one whose pending artefacts were dropped).
    var needsBase = false
    /// Its startup check (does it hold newer state?) is done; it ships nothing before.
    var checked = false
    var lastError: String?
    var lastErrorAtMillis: Int64?
    var lastSuccessAtMillis: Int64?
    var bytes: Int64 = 0
    var objects = 0
    var errors = 0
    var retries = 0

    init(name: String) { self.name = name }

    /// Whether it has (or will skip) the artefact at `position`.
    func has(_ position: ShipPosition) -> Bool {
        cursor.map { position <= $0 } ?? false
    }
}

/// What a replica reported about itself at startup.
struct RemoteState: Sendable {
    var replica: Int
    /// Its newest generation and the last txid in it.
    var newestGeneration: Generation?
    var maxTxID: UInt64?
}

/// The controller's shared state.
struct Shared: Sendable {
    var outbox: [ShadowArtefact] = []
    var replicas: [ReplicaProgress]
    /// The generation being written and the last commit taken into it.
    var generation: Generation?
    var lastTxID: UInt64?
    var generationReason: String?
    var generationsStarted = 0
    /// Commits the writer holds unsealed, and the commit time of the oldest.
    var unsealedCount = 0
    var oldestUnsealedMillis: Int64?
    var snapshotInFlight = false
    /// A new generation is wanted and its base snapshot has not started.
    var rotationPending = false
    var snapshotResult: SnapshotJobResult?
    var remoteReports: [RemoteState] = []
    var sealRequested = false
    var stopping = false
    var stopDeadline: Date?
    var abandoned = false
    var writerFinished = false
    var shadowError: String?

    init(replicas: [ReplicaProgress]) { self.replicas = replicas }

    mutating func insert(_ artefact: ShadowArtefact) {
        outbox.removeAll { $0.key == artefact.key }
        outbox.append(artefact)
        outbox.sort { $0.position < $1.position }
    }

    /// The next artefact replica `index` should receive, if any.
    func nextArtefact(for index: Int) -> ShadowArtefact? {
        let replica = replicas[index]
        for artefact in outbox where !replica.has(artefact.position) {
            if replica.needsBase && artefact.kind != .snapshot { continue }
            return artefact
        }
        return nil
    }

    /// The artefacts replica `index` still has to receive.
    func pending(for index: Int) -> [ShadowArtefact] {
        let replica = replicas[index]
        var result: [ShadowArtefact] = []
        var seenBase = !replica.needsBase
        for artefact in outbox where !replica.has(artefact.position) {
            if !seenBase && artefact.kind != .snapshot { continue }
            seenBase = true
            result.append(artefact)
        }
        return result
    }

    /// Whether every commit received has been sealed and shipped everywhere.
    var isCaughtUp: Bool {
        guard !sealRequested, unsealedCount == 0, !snapshotInFlight, !rotationPending, generation != nil else { return false }
        return replicas.indices.allSatisfy { replicas[$0].checked && nextArtefact(for: $0) == nil }
    }

    func status(databaseID: String, nowMillis: Int64, queuedOldestMillis: Int64?, droppedCommits: Int) -> StreamStatus {
        let unsealed = [oldestUnsealedMillis, queuedOldestMillis].compactMap { $0 }.min()
        var window: Int64 = 0
        var replicaStatuses: [ReplicaStatus] = []
        for index in replicas.indices {
            let r = replicas[index]
            let pending = pending(for: index)
            let oldest = ([pending.first?.firstTimestampMillis, unsealed].compactMap { $0 }).min()
            let lag = oldest.map { max(0, nowMillis - $0) } ?? 0
            window = max(window, lag)
            replicaStatuses.append(ReplicaStatus(
                name: r.name, generation: r.generation, lastTxID: r.lastTxID, oldestUnshippedMillis: oldest,
                lagMillis: lag, pendingArtefacts: pending.count, lastError: r.lastError,
                lastErrorAtMillis: r.lastErrorAtMillis, lastSuccessAtMillis: r.lastSuccessAtMillis,
                bytesShipped: r.bytes, objectsShipped: r.objects, errors: r.errors, retries: r.retries))
        }
        if replicas.isEmpty, let unsealed { window = max(0, nowMillis - unsealed) }
        return StreamStatus(
            databaseID: databaseID, generation: generation?.rawValue, lastTxID: lastTxID,
            generationReason: generationReason, generationsStarted: generationsStarted,
            droppedCommits: droppedCommits, shadowError: shadowError, dataLossWindowMillis: window,
            updatedAtMillis: nowMillis, replicas: replicaStatuses)
    }

    func shutdownReport() -> StreamShutdownReport {
        var unshipped: [StreamShutdownReport.Unshipped] = []
        for index in replicas.indices {
            let pending = pending(for: index)
            if !pending.isEmpty || !replicas[index].checked {
                unshipped.append(.init(replica: replicas[index].name, artefacts: pending.count, lastTxID: replicas[index].lastTxID))
            }
        }
        return StreamShutdownReport(unshipped: unshipped, unsealedCommits: unsealedCount, lastTxID: lastTxID)
    }
}
