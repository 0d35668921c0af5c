// Licensed under the Apache License, Version 2.0.
//
// What to restore from one replica: the generation, its snapshot, and the segments after it.
// Without a target, the newest generation (the one holding the most recent commit) and the
// snapshot whose chain reaches furthest; with a target txid, the newest generation whose
// chain from a snapshot at or before it reaches it; with a target time, the generation whose
// history reaches closest to that time from a snapshot taken at or before it.

/// A restore plan on one replica.
public struct RestorePlan: Sendable {
    /// The replica's catalog.
    public var catalog: ReplicaCatalog
    /// The generation restored from.
    public var generation: ReplicaCatalog.GenerationInfo
    /// The snapshot to start from.
    public var snapshot: ReplicaCatalog.Snapshot
    /// The segments to apply after it, in order.
    public var segments: [ReplicaCatalog.Segment]
    /// The txid the plan reaches, as far as the keys tell (the target txid, or the chain's end).
    public var expectedTxID: UInt64
    /// The commit time of the newest commit the generation holds (for ranking replicas).
    public var lastCommitMillis: Int64

    /// The bytes to download.
    public var downloadBytes: Int64 { snapshot.size + segments.reduce(0) { $0 + $1.size } }
}

extension Restorer {
    /// Plans a restore from the replica behind `client`; nil when it holds no generation.
    ///
    /// Throws `.noSnapshot` when generations exist but none covers the target, and
    /// `.corruptArtefact` when the newest generation's chain has a gap (segments past it that
    /// cannot be reached: restoring "the latest" would silently lose them).
    public static func plan(client: any ReplicaClient, targetTxID: UInt64? = nil, targetTimestampMillis: Int64? = nil) throws -> RestorePlan? {
        let catalog = try ReplicaCatalog(client: client)
        guard !catalog.isEmpty else { return nil }
        if let target = targetTxID {
            return try planTxID(catalog, target)
        }
        if let target = targetTimestampMillis {
            return try planTime(catalog, target)
        }
        return try planLatest(catalog)
    }

    private static func planLatest(_ catalog: ReplicaCatalog) throws -> RestorePlan {
        for generation in catalog.generations {
            // The snapshot whose chain reaches furthest; the newest of equals.
            guard let snapshot = generation.snapshots.max(by: { (generation.chainEnd(from: $0), $0.txID) < (generation.chainEnd(from: $1), $1.txID) }) else {
                continue
            }
            let (segments, end) = generation.chain(from: snapshot, through: .max)
            if let stranded = generation.segments.first(where: { $0.maxTxID > end }) {
                throw StreamError(.corruptArtefact, "\(catalog.client.description): generation \(generation.generation): the chain from snapshot txid \(snapshot.txID) stops at txid \(end), but \(stranded.key) holds later txids (a segment is missing)")
            }
            return RestorePlan(
                catalog: catalog, generation: generation, snapshot: snapshot, segments: segments,
                expectedTxID: end, lastCommitMillis: generation.orderingMillis)
        }
        throw StreamError(.noSnapshot, "\(catalog.client.description): no generation holds a snapshot")
    }

    private static func planTxID(_ catalog: ReplicaCatalog, _ target: UInt64) throws -> RestorePlan {
        for generation in catalog.generations {
            // The newest snapshot at or before the target from which the chain reaches it.
            for snapshot in generation.snapshots.reversed() where snapshot.txID <= target {
                let (segments, end) = generation.chain(from: snapshot, through: target)
                if end == target {
                    return RestorePlan(
                        catalog: catalog, generation: generation, snapshot: snapshot, segments: segments,
                        expectedTxID: target, lastCommitMillis: generation.orderingMillis)
                }
            }
        }
        throw StreamError(.noSnapshot, "\(catalog.client.description): no generation reaches txid \(target) from a snapshot at or before it")
    }

    private static func planTime(_ catalog: ReplicaCatalog, _ target: Int64) throws -> RestorePlan {
        var best: (score: Int64, plan: RestorePlan)?
        for generation in catalog.generations {
            // The newest snapshot taken at or before the target time (one header read each).
            var chosen: ReplicaCatalog.Snapshot?
            for snapshot in generation.snapshots.reversed() {
                let header = try ReplicaCatalog.header(of: snapshot.key, client: catalog.client)
                if header.lastTimestampMillis <= target {
                    chosen = snapshot
                    break
                }
            }
            guard let snapshot = chosen else { continue }
            let (segments, end) = generation.chain(from: snapshot, through: .max)
            // Rank by how close to the target the generation's history reaches.
            let score = min(generation.orderingMillis, target)
            if best == nil || score > best!.score {
                best = (score, RestorePlan(
                    catalog: catalog, generation: generation, snapshot: snapshot, segments: segments,
                    expectedTxID: end, lastCommitMillis: score))
            }
        }
        guard let best else {
            throw StreamError(.noSnapshot, "\(catalog.client.description): no snapshot was taken at or before \(formatMillis(target))")
        }
        return best.plan
    }
}

/// `millis` since the Unix epoch as an RFC 3339 UTC time with milliseconds.
public func formatMillis(_ millis: Int64) -> String {
    let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
    let ms = Int(millis - seconds * 1000)
    let days = Int(seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400)
    let secondsOfDay = Int(seconds - Int64(days) * 86400)
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    func pad(_ v: Int, _ n: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, n - s.count)) + s
    }
    return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2)).\(pad(ms, 3))Z"
}
