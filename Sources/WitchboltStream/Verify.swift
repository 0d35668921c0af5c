// Licensed under the Apache License, Version 2.0.
//
// Verify a replica without writing a database: every generation's snapshots (file checksum,
// header against key, image checksum against the trailer) and the chain after each of them
// (segment checksums, headers, txid continuity, whole-database checksum after every record,
// replayed on the page hashes alone: 8 bytes of memory per page, one segment at a time).
// Each snapshot's run is replayed up to the next snapshot, because the stream re-bases the
// incremental checksum on every snapshot it takes. Problems are collected, not thrown, so
// one report lists everything wrong; an empty list means the replica is sound.

import Logging

/// What `verify` found.
public struct VerifyReport: Sendable {
    /// One problem, naming the artefact.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var generation: Generation?
        public var key: String?
        public var message: String
        public var description: String { message }
    }

    /// A generation's summary.
    public struct GenerationSummary: Sendable, Equatable {
        public var generation: Generation
        public var snapshots: Int
        public var segments: Int
        /// The txids restorable from its snapshots (nil when none).
        public var firstTxID: UInt64?
        public var lastTxID: UInt64?
    }

    /// Everything wrong, in the order found; empty when the replica is sound.
    public var problems: [Problem] = []
    public var generations: [GenerationSummary] = []
    /// Transaction records replayed and checked.
    public var recordsChecked = 0
    /// Bytes read from the replica.
    public var bytesRead: Int64 = 0

    /// Whether nothing is wrong.
    public var isSound: Bool { problems.isEmpty }
}

/// Checks replicas.
public enum ReplicaVerifier {
    static let logger = Logger(label: "witchbolt.stream.verify")

    /// Verifies every generation of the replica behind `client`.
    ///
    /// Throws only when the replica cannot be listed; everything else is a problem in the report.
    public static func verify(_ client: any ReplicaClient) throws -> VerifyReport {
        let catalog = try ReplicaCatalog(client: client)
        var report = VerifyReport()
        for key in catalog.foreignKeys {
            report.problems.append(.init(generation: nil, key: key, message: "\(key): not an artefact (foreign or leftover file under the replica's prefix)"))
        }
        for generation in catalog.generations {
            verify(generation, client: client, into: &report)
        }
        return report
    }

    private static func verify(_ info: ReplicaCatalog.GenerationInfo, client: any ReplicaClient, into report: inout VerifyReport) {
        let g = info.generation
        func problem(_ key: String?, _ message: String) {
            report.problems.append(.init(generation: g, key: key, message: message))
        }
        var summary = VerifyReport.GenerationSummary(generation: g, snapshots: info.snapshots.count, segments: info.segments.count)
        if info.snapshots.isEmpty {
            problem(nil, "generation \(g): holds no snapshot, nothing in it can be restored")
        }
        var databaseID: String?
        var checked = Set<String>()
        var reached: UInt64 = 0
        // Each snapshot, then the chain after it up to the next snapshot.
        for (index, snapshot) in info.snapshots.enumerated() {
            let limit = index + 1 < info.snapshots.count ? info.snapshots[index + 1].txID : .max
            guard var replay = checkSnapshot(snapshot, client: client, report: &report) else { continue }
            if let id = databaseID, id != replay.databaseID {
                problem(snapshot.key, "\(snapshot.key): belongs to database \(replay.databaseID), the generation to \(id)")
            }
            databaseID = databaseID ?? replay.databaseID
            summary.firstTxID = min(summary.firstTxID ?? .max, snapshot.txID)
            let (segments, end) = info.chain(from: snapshot, through: limit)
            var currentKey = snapshot.key
            var previousTime: Int64?
            do {
                for segment in segments {
                    currentKey = segment.key
                    checked.insert(segment.key)
                    let bytes = try client.read(key: segment.key)
                    report.bytesRead += Int64(bytes.count)
                    // Checked whole, then replayed a record at a time, as restore does.
                    let checkedSegment = try SegmentFile.Checked(bytes, name: segment.key)
                    try ReplicaCatalog.checkHeader(checkedSegment.header, matches: .segment(g, minTxID: segment.minTxID, maxTxID: segment.maxTxID), key: segment.key)
                    try replay.checkSegment(checkedSegment.header, key: segment.key)
                    try checkedSegment.forEachRecord { record in
                        guard !replay.isBehind(record) && record.txID <= limit else { return true }
                        if let previous = previousTime, record.timestampMillis < previous {
                            problem(segment.key, "\(segment.key): txid \(record.txID): commit time \(formatMillis(record.timestampMillis)) goes back before the previous commit's \(formatMillis(previous))")
                        }
                        previousTime = record.timestampMillis
                        try replay.check(record, key: segment.key)
                        try replay.apply(record, key: segment.key)
                        report.recordsChecked += 1
                        return true
                    }
                }
                if limit != .max, replay.txID < limit {
                    let next = info.segments.first { $0.minTxID > replay.txID }?.key ?? info.snapshots[index + 1].key
                    problem(next, "generation \(g): the chain from snapshot txid \(snapshot.txID) stops at txid \(replay.txID), before the next snapshot at txid \(limit): txids are missing before \(next)")
                } else if replay.txID < end {
                    problem(segments.last?.key, "\(segments.last?.key ?? snapshot.key): chain from snapshot txid \(snapshot.txID) ends at txid \(replay.txID), the segment names promise \(end)")
                }
            } catch {
                problem(currentKey, "\(error)".replacingPrefix("corrupt artefact: ", "").replacingPrefix("checksum mismatch: ", ""))
            }
            reached = max(reached, replay.txID)
        }
        if !info.snapshots.isEmpty { summary.lastTxID = reached }
        // Segments the chains did not reach: a gap before them, or before every snapshot.
        let firstSnapshot = info.snapshots.first?.txID ?? .max
        for segment in info.segments where !checked.contains(segment.key) {
            do {
                let bytes = try client.read(key: segment.key)
                report.bytesRead += Int64(bytes.count)
                let header = try SegmentFile.Checked(bytes, name: segment.key).header
                try ReplicaCatalog.checkHeader(header, matches: .segment(g, minTxID: segment.minTxID, maxTxID: segment.maxTxID), key: segment.key)
                if let id = databaseID, header.databaseID != id {
                    problem(segment.key, "\(segment.key): belongs to database \(header.databaseID), the generation to \(id)")
                }
            } catch {
                problem(segment.key, "\(error)".replacingPrefix("corrupt artefact: ", ""))
            }
            if segment.maxTxID > firstSnapshot && segment.maxTxID > reached {
                problem(segment.key, "\(segment.key): unreachable: the chain stops at txid \(reached), before txid \(segment.minTxID) (a segment before it is missing or damaged)")
            }
        }
        report.generations.append(summary)
    }

    /// Reads a snapshot (streamed through a temporary file) and checks it; returns the replay
    /// state at its txid, or nil after recording a problem.
    private static func checkSnapshot(_ snapshot: ReplicaCatalog.Snapshot, client: any ReplicaClient, report: inout VerifyReport) -> ChainReplay? {
        let path = LocalFS.temporaryPath(beside: tempDirectory() + "/verify", tag: "snapshot")
        defer { LocalFS.remove(path) }
        do {
            let file = try LocalFile.create(path, exclusive: true, private: true)
            var offset: Int64 = 0
            try client.read(key: snapshot.key) { chunk in
                try file.write(chunk, at: offset)
                offset += Int64(chunk.count)
            }
            try file.close()
            report.bytesRead += offset
            let reader = try SnapshotReader(path: path, name: snapshot.key)
            try ReplicaCatalog.checkHeader(reader.header, matches: .snapshot(snapshot.generation, txID: snapshot.txID), key: snapshot.key)
            var checksum = DatabaseChecksum(pageSize: Int(reader.header.pageSize))
            let trailer = try reader.read { checksum.appendImage($0) }
            checksum.setActiveMeta(txID: snapshot.txID)
            guard checksum.value == trailer.databaseChecksum else {
                throw StreamError(.checksumMismatch, "\(snapshot.key): whole-database checksum of the image differs from the recorded one")
            }
            return ChainReplay(snapshot: reader.header, checksum: checksum, maxDatabaseBytes: .max)
        } catch {
            report.problems.append(.init(generation: snapshot.generation, key: snapshot.key, message: "\(error)".replacingPrefix("corrupt artefact: ", "").replacingPrefix("checksum mismatch: ", "")))
            return nil
        }
    }
}

/// The directory for temporary files: $TMPDIR or /tmp.
func tempDirectory() -> String {
    if let dir = getenvString("TMPDIR"), !dir.isEmpty { return dir.hasSuffix("/") ? String(dir.dropLast()) : dir }
    return "/tmp"
}

extension String {
    func replacingPrefix(_ prefix: String, _ with: String) -> String {
        hasPrefix(prefix) ? with + dropFirst(prefix.count) : self
    }
}
