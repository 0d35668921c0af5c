// Licensed under the Apache License, Version 2.0.
//
// What a replica holds, from one listing: its generations, each generation's snapshots and
// segments (from their keys), and the commit time each generation reaches (from the
// 160-byte header of its newest artefact, one range read per generation). Generations are
// ordered newest first by that commit time, not by id: the newest generation is the one
// holding the most recent commit (a stale node may start a generation later that holds
// older data). Keys that are not artefacts are kept aside as foreign.

/// A replica's generations, snapshots and segments.
public struct ReplicaCatalog: Sendable {
    /// A snapshot on the replica.
    public struct Snapshot: Sendable, Equatable, Hashable {
        public var generation: Generation
        public var txID: UInt64
        public var key: String
        public var size: Int64
    }

    /// A segment on the replica.
    public struct Segment: Sendable, Equatable, Hashable {
        public var generation: Generation
        public var minTxID: UInt64
        public var maxTxID: UInt64
        public var key: String
        public var size: Int64
    }

    /// One generation's artefacts.
    public struct GenerationInfo: Sendable {
        public var generation: Generation
        /// Snapshots by ascending txid.
        public var snapshots: [Snapshot]
        /// Segments by ascending min txid (then max txid).
        public var segments: [Segment]
        /// The highest txid any artefact of the generation holds.
        public var maxTxID: UInt64
        /// The commit time of `maxTxID` from its artefact's header (nil if it could not be read).
        public var lastCommitMillis: Int64?
        /// The database id from that same header (nil if it could not be read).
        public var databaseID: String?

        /// The commit time used to order generations: the header's, else the id's creation time.
        public var orderingMillis: Int64 { lastCommitMillis ?? generation.createdMillis }

        /// The highest txid restorable from `snapshot` by following segments without a gap.
        public func chainEnd(from snapshot: Snapshot) -> UInt64 {
            chain(from: snapshot, through: .max).end
        }

        /// The segments to apply after `snapshot` up to `target` txid, in order, choosing at
        /// each step the segment that reaches furthest; `end` is the last txid reached.
        public func chain(from snapshot: Snapshot, through target: UInt64) -> (segments: [Segment], end: UInt64) {
            var current = snapshot.txID
            var chosen: [Segment] = []
            while current < target {
                let next = segments.filter { $0.minTxID <= current &+ 1 && $0.maxTxID > current }
                    .max { ($0.maxTxID, UInt64.max - $0.minTxID) < ($1.maxTxID, UInt64.max - $1.minTxID) }
                guard let next else { break }
                chosen.append(next)
                current = next.maxTxID
            }
            return (chosen, min(current, max(target, snapshot.txID)))
        }

        /// The best restorable end: the furthest txid reached from any snapshot.
        public var restorableTxID: UInt64? {
            snapshots.map { chainEnd(from: $0) }.max()
        }
    }

    /// The client listed.
    public let client: any ReplicaClient
    /// Generations, newest first (by the commit time they hold, then by id).
    public private(set) var generations: [GenerationInfo]
    /// Keys under the replica's root that are not artefacts (foreign files, leftovers).
    public private(set) var foreignKeys: [String]
    /// Artefacts whose header could not be read while cataloguing, with the reason.
    public private(set) var unreadableHeaders: [String: String] = [:]

    /// Lists `client` and reads the header of each generation's newest artefact.
    public init(client: any ReplicaClient) throws {
        self.client = client
        var snapshots: [Generation: [Snapshot]] = [:]
        var segments: [Generation: [Segment]] = [:]
        var foreign: [String] = []
        // Sort every key into its generation, or aside.
        for object in try client.list(prefix: "") {
            switch ArtefactKey.parse(object.key) {
            case .snapshot(let g, let txID):
                snapshots[g, default: []].append(Snapshot(generation: g, txID: txID, key: object.key, size: object.size))
            case .segment(let g, let minTxID, let maxTxID):
                segments[g, default: []].append(Segment(generation: g, minTxID: minTxID, maxTxID: maxTxID, key: object.key, size: object.size))
            case nil:
                foreign.append(object.key)
            }
        }
        foreignKeys = foreign
        generations = []
        // Learn each generation's last commit time from its newest artefact's header.
        for g in Set(snapshots.keys).union(segments.keys) {
            var info = GenerationInfo(
                generation: g,
                snapshots: (snapshots[g] ?? []).sorted { $0.txID < $1.txID },
                segments: (segments[g] ?? []).sorted { ($0.minTxID, $0.maxTxID) < ($1.minTxID, $1.maxTxID) },
                maxTxID: 0, lastCommitMillis: nil, databaseID: nil)
            let lastSnapshot = info.snapshots.last
            let lastSegment = info.segments.max { $0.maxTxID < $1.maxTxID }
            info.maxTxID = max(lastSnapshot?.txID ?? 0, lastSegment?.maxTxID ?? 0)
            let newestKey = (lastSegment.map { $0.maxTxID >= (lastSnapshot?.txID ?? 0) } ?? false) ? lastSegment!.key : lastSnapshot!.key
            do {
                let header = try Self.header(of: newestKey, client: client)
                info.lastCommitMillis = header.lastTimestampMillis
                info.databaseID = header.databaseID
            } catch {
                unreadableHeaders[newestKey] = "\(error)"
            }
            generations.append(info)
        }
        generations.sort { ($0.orderingMillis, $0.generation) > ($1.orderingMillis, $1.generation) }
    }

    /// The generation `g`, if the replica holds it.
    public func generation(_ g: Generation) -> GenerationInfo? {
        generations.first { $0.generation == g }
    }

    /// Whether the replica holds no generation at all.
    public var isEmpty: Bool { generations.isEmpty }

    /// Reads and checks the header of the artefact at `key` with one range read.
    public static func header(of key: String, client: any ReplicaClient) throws -> ArtefactHeader {
        guard let parsed = ArtefactKey.parse(key) else {
            throw StreamError(.corruptArtefact, "\(key): not an artefact key")
        }
        let kind: ArtefactHeader.Kind
        switch parsed {
        case .snapshot: kind = .snapshot
        case .segment: kind = .segment
        }
        let bytes = try client.read(key: key, range: 0..<Int64(ArtefactHeader.encodedSize))
        let header = try ArtefactHeader.decode(bytes[...], expecting: kind, name: key)
        try checkHeader(header, matches: parsed, key: key)
        return header
    }

    /// Checks that a header agrees with the key it was stored under.
    static func checkHeader(_ header: ArtefactHeader, matches parsed: ArtefactKey.Parsed, key: String) throws {
        switch parsed {
        case .snapshot(let g, let txID):
            guard header.generation == g, header.minTxID == txID else {
                throw StreamError(.corruptArtefact, "\(key): header says generation \(header.generation) txid \(header.minTxID), not what its key says")
            }
        case .segment(let g, let minTxID, let maxTxID):
            guard header.generation == g, header.minTxID == minTxID, header.maxTxID == maxTxID else {
                throw StreamError(.corruptArtefact, "\(key): header says generation \(header.generation) txids \(header.minTxID)-\(header.maxTxID), not what its key says")
            }
        }
    }
}
