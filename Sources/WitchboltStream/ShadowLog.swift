// Licensed under the Apache License, Version 2.0.
//
// The shadow directory: the controller's durable local log. It holds sealed segments and
// snapshots until every replica has them, under the same keys as on a replica
// (`generations/GEN/snapshots/TXID.snapshot`, `generations/GEN/segments/MIN-MAX.segment`),
// plus small state files:
//
//     SHADOW/database-id             the database's random id, in every artefact header
//     SHADOW/state.json              generation, last sealed txid, its commit time and checksum
//     SHADOW/open.log                the open segment's records (ShadowOpenLog.swift)
//     SHADOW/replicas/N.json         what replica N has received (its shipping position)
//     SHADOW/status.json             lag and positions for `witchbolt status`
//
// Artefacts are shipped in a fixed order (`ShipPosition`): by generation, then by txid, a
// snapshot at txid S just before the segment that starts at S + 1. A replica's position is
// the last artefact it received in that order, so "replica has it" is one comparison.

import Foundation

/// Where an artefact falls in shipping order.
struct ShipPosition: Codable, Comparable, Hashable, Sendable, CustomStringConvertible {
    var generation: String
    var order: UInt64
    var rank: Int

    static func < (a: ShipPosition, b: ShipPosition) -> Bool {
        (a.generation, a.order, a.rank) < (b.generation, b.order, b.rank)
    }

    var description: String { "\(generation)/\(order)/\(rank)" }
}

/// A sealed artefact in the shadow directory.
struct ShadowArtefact: Sendable, Hashable {
    enum Kind: Sendable, Hashable { case snapshot, segment }

    var kind: Kind
    var generation: Generation
    var minTxID: UInt64
    var maxTxID: UInt64
    var size: Int64
    var firstTimestampMillis: Int64
    var lastTimestampMillis: Int64

    /// The key on a replica and the path under the shadow directory.
    var key: String {
        switch kind {
        case .snapshot: ArtefactKey.snapshot(generation, txID: maxTxID)
        case .segment: ArtefactKey.segment(generation, minTxID: minTxID, maxTxID: maxTxID)
        }
    }

    var position: ShipPosition {
        switch kind {
        case .snapshot: ShipPosition(generation: generation.rawValue, order: maxTxID &+ 1, rank: 0)
        case .segment: ShipPosition(generation: generation.rawValue, order: minTxID, rank: 1)
        }
    }
}

/// The controller's persistent state between runs.
struct ShadowState: Codable, Sendable, Equatable {
    var generation: String
    var lastTxID: UInt64
    var lastTimestampMillis: Int64
    var pageSize: Int
    /// The whole-database checksum at `lastTxID`: a restart continues the generation only if
    /// the database still has exactly this content.
    var databaseChecksum: UInt64?
}

/// A replica's shipping position, persisted so a restart does not ship everything again.
struct ReplicaCursor: Codable, Sendable, Equatable {
    var replica: String
    var position: ShipPosition?
    var lastTxID: UInt64?
}

/// Paths and persistent files of one shadow directory.
struct ShadowLog: Sendable {
    let root: String

    init(root: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    var generationsDirectory: String { root + "/generations" }
    var statePath: String { root + "/state.json" }
    var openLogPath: String { root + "/open.log" }
    var statusPath: String { root + "/status.json" }
    var databaseIDPath: String { root + "/database-id" }
    var replicasDirectory: String { root + "/replicas" }

    func path(of artefact: ShadowArtefact) -> String { root + "/" + artefact.key }
    func path(ofKey key: String) -> String { root + "/" + key }
    func cursorPath(replica index: Int) -> String { replicasDirectory + "/\(index).json" }

    /// Creates the directory tree and removes what a crash left half-written.
    func prepare() throws {
        try ShadowFileIO.makeDirectory(generationsDirectory)
        try ShadowFileIO.makeDirectory(replicasDirectory)
        removeTemporaryFiles()
    }

    /// Deletes every `*.tmp-*` file under the shadow directory (left by a crash mid-write).
    @discardableResult
    func removeTemporaryFiles() -> [String] {
        var removed: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return removed }
        while let relative = walker.nextObject() as? String {
            if (relative as NSString).lastPathComponent.contains(ShadowFileIO.temporaryMarker) {
                ShadowFileIO.remove(root + "/" + relative)
                removed.append(relative)
            }
        }
        return removed
    }

    /// The database id, created on first use.
    func databaseID() throws -> String {
        if let bytes = try? ShadowFileIO.read(databaseIDPath),
           let id = String(bytes: bytes, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
           !id.isEmpty {
            return id
        }
        let id = UUID().uuidString.lowercased()
        try ShadowFileIO.writeAtomically(Array((id + "\n").utf8), to: databaseIDPath)
        return id
    }

    func loadState() -> ShadowState? {
        guard let bytes = try? ShadowFileIO.read(statePath) else { return nil }
        return try? JSONDecoder().decode(ShadowState.self, from: Data(bytes))
    }

    func saveState(_ state: ShadowState) throws {
        try ShadowFileIO.writeAtomically(try Self.encode(state), to: statePath)
    }

    func loadCursor(replica index: Int) -> ReplicaCursor? {
        guard let bytes = try? ShadowFileIO.read(cursorPath(replica: index)) else { return nil }
        return try? JSONDecoder().decode(ReplicaCursor.self, from: Data(bytes))
    }

    func saveCursor(_ cursor: ReplicaCursor, replica index: Int) throws {
        try ShadowFileIO.writeAtomically(try Self.encode(cursor), to: cursorPath(replica: index), sync: false)
    }

    /// Lists the sealed artefacts in shipping order, reading their headers for commit times.
    /// Unreadable files are reported through `corrupt` (and left for the caller to remove).
    func listArtefacts(corrupt: (String, any Error) -> Void = { _, _ in }) -> [ShadowArtefact] {
        var result: [ShadowArtefact] = []
        guard let walker = FileManager.default.enumerator(atPath: generationsDirectory) else { return result }
        while let relative = walker.nextObject() as? String {
            let key = "generations/" + relative
            guard let parsed = ArtefactKey.parse(key) else { continue }
            let path = root + "/" + key
            do {
                switch parsed {
                case .snapshot(let generation, let txID):
                    let reader = try SnapshotReader(path: path, name: key)
                    let header = reader.header
                    result.append(ShadowArtefact(
                        kind: .snapshot, generation: generation, minTxID: txID, maxTxID: txID,
                        size: ShadowFileIO.size(of: path) ?? 0,
                        firstTimestampMillis: header.firstTimestampMillis, lastTimestampMillis: header.lastTimestampMillis))
                case .segment(let generation, let minTxID, let maxTxID):
                    let header = try SegmentFile.Checked(try ShadowFileIO.read(path), name: key).header
                    result.append(ShadowArtefact(
                        kind: .segment, generation: generation, minTxID: minTxID, maxTxID: maxTxID,
                        size: ShadowFileIO.size(of: path) ?? 0,
                        firstTimestampMillis: header.firstTimestampMillis, lastTimestampMillis: header.lastTimestampMillis))
                }
            } catch {
                corrupt(path, error)
            }
        }
        return result.sorted { $0.position < $1.position }
    }

    /// Removes empty directories of generations older than `olderThan` (newer ones may be
    /// being written right now).
    func removeEmptyGenerationDirectories(olderThan limit: Generation?) {
        guard let limit else { return }
        let fm = FileManager.default
        guard let generations = try? fm.contentsOfDirectory(atPath: generationsDirectory) else { return }
        for generation in generations where generation < limit.rawValue {
            let dir = generationsDirectory + "/" + generation
            let subdirs = ["snapshots", "segments"].map { dir + "/" + $0 }
            let empty = subdirs.allSatisfy { ((try? fm.contentsOfDirectory(atPath: $0)) ?? []).isEmpty }
            if empty { try? fm.removeItem(atPath: dir) }
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(value))
    }
}
