// Licensed under the Apache License, Version 2.0.
//
// Retention: which artefacts may be deleted, decided once, as a pure function of a listing,
// for every replica and for the shadow directory alike. The rules (ARCHITECTURE.md):
//
// - keep every snapshot newer than the window, and always the newest snapshot;
// - keep the newest snapshot at or before the start of the window, so a point-in-time
//   restore anywhere inside the window has a base and an unbroken chain after it;
// - in each generation, delete the snapshots not kept and the segments older than its oldest
//   kept snapshot (a segment all of whose txids are at or before it);
// - drop a generation with no kept snapshot entirely;
// - never touch a generation newer than the one being written (another node's, or history
//   this node must not overwrite), and never the current generation's newest snapshot.

import Foundation
import Logging

/// One artefact as retention sees it.
struct RetentionItem: Sendable, Equatable {
    var key: String
    var generation: Generation
    var isSnapshot: Bool
    var minTxID: UInt64
    var maxTxID: UInt64
    /// For snapshots: the commit time the snapshot holds (its header's timestamp).
    var timestampMillis: Int64
}

/// The retention policy.
enum Retention {
    /// The keys to delete from `items` at `nowMillis`, keeping `window` of history, while
    /// `current` is the generation being written.
    static func plan(items: [RetentionItem], nowMillis: Int64, window: Duration, current: Generation?) -> [String] {
        // Generations newer than the one being written are never touched.
        let eligible = items.filter { item in current.map { item.generation <= $0 } ?? true }
        let snapshots = eligible.filter(\.isSnapshot)
        let windowStart = nowMillis - window.milliseconds
        func newer(_ a: RetentionItem, _ b: RetentionItem) -> Bool {
            (a.timestampMillis, a.generation, a.maxTxID) > (b.timestampMillis, b.generation, b.maxTxID)
        }

        // Decide which snapshots stay.
        var kept = Set(snapshots.filter { $0.timestampMillis > windowStart }.map(\.key))
        if let newest = snapshots.min(by: newer) { kept.insert(newest.key) }
        if let atWindowStart = snapshots.filter({ $0.timestampMillis <= windowStart }).min(by: newer) {
            kept.insert(atWindowStart.key)
        }
        if let current, let base = snapshots.filter({ $0.generation == current }).min(by: newer) {
            kept.insert(base.key)
        }

        // Per generation: drop it whole, or trim what precedes its oldest kept snapshot.
        var delete: [String] = []
        for generation in Set(eligible.map(\.generation)) {
            let members = eligible.filter { $0.generation == generation }
            let keptTxIDs = members.filter { $0.isSnapshot && kept.contains($0.key) }.map(\.maxTxID)
            guard let oldestKept = keptTxIDs.min() else {
                // A generation without a kept snapshot cannot be restored from: drop it,
                // unless it is the one being written (its base may still be on the way).
                if generation != current { delete += members.map(\.key) }
                continue
            }
            for item in members {
                if item.isSnapshot ? !kept.contains(item.key) : item.maxTxID <= oldestKept {
                    delete.append(item.key)
                }
            }
        }
        return delete.sorted()
    }
}

/// Applies retention to one replica: lists it, reads the headers of its snapshots (cached, a
/// header never changes), and deletes what the policy says.
final class ReplicaRetention {
    private var snapshotTimes: [String: Int64] = [:]
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// Runs retention on `client`; returns the keys deleted.
    @discardableResult
    func run(client: any ReplicaClient, nowMillis: Int64, window: Duration, current: Generation?) throws -> [String] {
        let objects = try client.list(prefix: ArtefactKey.generationsPrefix)
        var items: [RetentionItem] = []
        for object in objects {
            guard let parsed = ArtefactKey.parse(object.key) else { continue }
            switch parsed {
            case .snapshot(let generation, let txID):
                let time = try snapshotTime(client: client, key: object.key)
                items.append(RetentionItem(key: object.key, generation: generation, isSnapshot: true, minTxID: txID, maxTxID: txID, timestampMillis: time))
            case .segment(let generation, let minTxID, let maxTxID):
                items.append(RetentionItem(key: object.key, generation: generation, isSnapshot: false, minTxID: minTxID, maxTxID: maxTxID, timestampMillis: 0))
            }
        }
        let doomed = Retention.plan(items: items, nowMillis: nowMillis, window: window, current: current)
        if !doomed.isEmpty {
            try client.delete(keys: doomed)
            for key in doomed { snapshotTimes[key] = nil }
            logger.info("retention deleted \(doomed.count) artefacts from \(client.description)")
        }
        return doomed
    }

    private func snapshotTime(client: any ReplicaClient, key: String) throws -> Int64 {
        if let time = snapshotTimes[key] { return time }
        let head = try client.read(key: key, range: 0 ..< Int64(ArtefactHeader.encodedSize))
        let header = try ArtefactHeader.decode(head[...], expecting: .snapshot, name: "\(client.description)/\(key)")
        snapshotTimes[key] = header.lastTimestampMillis
        return header.lastTimestampMillis
    }
}
