// Licensed under the Apache License, Version 2.0.
//
// Executes a restore plan: download the snapshot to a temporary file (streamed), decompress
// it into a temporary database beside the output while hashing its pages, apply the segments
// in txid order (prefetched in parallel) with every check of ChainReplay, stop at the
// target, recompute the whole-database checksum over the file built, fsync, run the engine's
// consistency check, and publish the file under the output name without ever replacing an
// existing file, then fsync the directory. Any failure removes the temporary files: the
// output path never holds a partial database.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Witchbolt

/// One run of a restore plan.
struct RestoreExecution {
    let plan: RestorePlan
    let options: RestoreOptions
    private var client: any ReplicaClient { plan.catalog.client }

    init(plan: RestorePlan, options: RestoreOptions) {
        self.plan = plan
        self.options = options
    }

    func run() throws -> RestoreResult {
        let output = options.outputPath
        let directory = LocalFS.directoryName(output)
        try LocalFS.makeDirectories(directory)
        let snapshotPath = LocalFS.temporaryPath(beside: output, tag: "snapshot")
        let databasePath = LocalFS.temporaryPath(beside: output, tag: "restore")
        defer {
            LocalFS.remove(snapshotPath)
            LocalFS.remove(databasePath)
        }
        var downloaded: Int64 = 0
        let total = plan.downloadBytes
        func report(_ phase: RestoreProgress.Phase, _ txID: UInt64) {
            options.progress?(RestoreProgress(phase: phase, bytesDone: downloaded, bytesTotal: total, txID: txID, expectedTxID: plan.expectedTxID))
        }

        // 1. Download the snapshot to a local file, streamed: snapshots can be large.
        let snapshotKey = plan.snapshot.key
        report(.snapshot, 0)
        try RestorePrefetcher.withRetries(key: snapshotKey) {
            // A retry starts the download over, in a fresh file.
            LocalFS.remove(snapshotPath)
            let file = try LocalFile.create(snapshotPath, exclusive: true, private: true)
            var offset: Int64 = 0
            let start = downloaded
            downloaded = start
            try client.read(key: snapshotKey) { chunk in
                try file.write(chunk, at: offset)
                offset += Int64(chunk.count)
                downloaded = start + offset
                report(.snapshot, 0)
            }
            try file.close()
        }

        // 2. Decompress it into the temporary database, hashing every page on the way.
        let reader = try SnapshotReader(path: snapshotPath, name: snapshotKey)
        try ReplicaCatalog.checkHeader(reader.header, matches: .snapshot(plan.generation.generation, txID: plan.snapshot.txID), key: snapshotKey)
        let database = try LocalFile.create(databasePath, exclusive: true, private: true)
        let pageSize = Int(reader.header.pageSize)
        var checksum = DatabaseChecksum(pageSize: pageSize)
        var written: Int64 = 0
        let trailer = try reader.read { chunk in
            guard UInt64(written) + UInt64(chunk.count) <= options.maxDatabaseBytes else {
                throw StreamError(.corruptArtefact, "\(snapshotKey): image is larger than \(options.maxDatabaseBytes) bytes")
            }
            try database.write(chunk, at: written)
            written += Int64(chunk.count)
            checksum.appendImage(chunk)
        }
        checksum.setActiveMeta(txID: reader.header.maxTxID)
        guard checksum.value == trailer.databaseChecksum else {
            throw StreamError(.checksumMismatch, "\(snapshotKey): whole-database checksum of the image \(hex(checksum.value, digits: 16)) differs from the recorded \(hex(trailer.databaseChecksum, digits: 16))")
        }
        LocalFS.remove(snapshotPath)
        var replay = ChainReplay(snapshot: reader.header, checksum: checksum, maxDatabaseBytes: options.maxDatabaseBytes)
        report(.segments, replay.txID)

        // 3. Apply the segments in order, downloaded ahead in parallel, checking every record.
        var segmentsApplied = 0
        var recordsApplied = 0
        var reachedTarget = false
        if !plan.segments.isEmpty {
            let prefetcher = RestorePrefetcher(client: client, keys: plan.segments.map(\.key), parallelism: options.parallelism)
            defer { prefetcher.finish() }
            for (index, segment) in plan.segments.enumerated() {
                let bytes = try prefetcher.take(index)
                downloaded += Int64(bytes.count)
                // The whole segment is checked first; its records are then decoded and applied
                // one at a time (one record's frames in memory, not the segment's).
                let checked = try SegmentFile.Checked(bytes, name: segment.key)
                try ReplicaCatalog.checkHeader(checked.header, matches: .segment(segment.generation, minTxID: segment.minTxID, maxTxID: segment.maxTxID), key: segment.key)
                try replay.checkSegment(checked.header, key: segment.key)
                var appliedHere = 0
                try checked.forEachRecord { record in
                    if replay.isBehind(record) { return true }
                    if let target = options.targetTxID, record.txID > target { reachedTarget = true; return false }
                    if let target = options.targetTimestampMillis, record.timestampMillis > target { reachedTarget = true; return false }
                    try replay.check(record, key: segment.key)
                    try write(record, to: database, currentPages: replay.highWaterMark, pageSize: pageSize)
                    try replay.apply(record, key: segment.key)
                    appliedHere += 1
                    return true
                }
                if appliedHere > 0 { segmentsApplied += 1 }
                recordsApplied += appliedHere
                report(.segments, replay.txID)
                if reachedTarget { break }
            }
        }
        if let target = options.targetTxID, replay.txID != target {
            throw StreamError(.noSnapshot, "\(client.description): generation \(plan.generation.generation) ends at txid \(replay.txID), before the target txid \(target)")
        }
        if options.targetTxID == nil, options.targetTimestampMillis == nil, replay.txID < plan.expectedTxID {
            throw StreamError(.corruptArtefact, "\(client.description): generation \(plan.generation.generation): segments end at txid \(replay.txID), their names promise txid \(plan.expectedTxID)")
        }

        // 4. Cut the file to the high-water mark, make it durable, and recompute the checksum
        //    over the bytes actually on disk.
        report(.checking, replay.txID)
        let size = Int64(replay.highWaterMark) * Int64(pageSize)
        try database.truncate(to: size)
        try database.sync()
        let onDisk = try Self.checksum(of: database, pageSize: pageSize, pages: replay.highWaterMark, txID: replay.txID)
        guard onDisk == replay.checksum.value else {
            throw StreamError(.checksumMismatch, "\(databasePath): whole-database checksum of the restored file \(hex(onDisk, digits: 16)) differs from the chain's \(hex(replay.checksum.value, digits: 16))")
        }
        try database.close()

        // 5. Let the engine open it and check its structure.
        if options.runConsistencyCheck {
            try Self.consistencyCheck(databasePath, output: output)
        }

        // 6. Publish: link under the output name (fails rather than replace), drop the temp name.
        guard link(databasePath, output) == 0 else {
            let code = errno
            if code == EEXIST {
                throw StreamError(.databaseExists, "\(output) appeared while restoring; restore never overwrites a database")
            }
            throw StreamError(.io, "\(output): cannot publish the restored database: \(errorText(code))")
        }
        LocalFS.remove(databasePath)
        try LocalFS.syncDirectory(directory)
        report(.done, replay.txID)
        return RestoreResult(
            replica: client.description, generation: plan.generation.generation, databaseID: replay.databaseID,
            snapshotTxID: plan.snapshot.txID, txID: replay.txID, timestampMillis: replay.timestampMillis,
            pageSize: pageSize, highWaterMark: replay.highWaterMark, databaseChecksum: onDisk,
            segmentsApplied: segmentsApplied, recordsApplied: recordsApplied, bytesDownloaded: downloaded, path: output)
    }

    /// Writes a record's frames, first resizing the file to its high-water mark.
    private func write(_ record: TransactionRecord, to file: LocalFile, currentPages: UInt64, pageSize: Int) throws {
        if record.highWaterMark != currentPages {
            try file.truncate(to: Int64(record.highWaterMark) * Int64(pageSize))
        }
        for frame in record.frames {
            try file.write(frame.data, at: Int64(frame.id) * Int64(pageSize))
        }
    }

    /// The whole-database checksum of the first `pages` pages of `file`.
    static func checksum(of file: LocalFile, pageSize: Int, pages: UInt64, txID: UInt64) throws -> UInt64 {
        var checksum = DatabaseChecksum(pageSize: pageSize)
        let chunkPages = max(1, (1 << 20) / pageSize)
        var id: UInt64 = 0
        while id < pages {
            let n = min(UInt64(chunkPages), pages - id)
            let chunk = try file.read(count: Int(n) * pageSize, at: Int64(id) * Int64(pageSize))
            guard chunk.count == Int(n) * pageSize else {
                throw StreamError(.io, "\(file.path): short read at page \(id)")
            }
            checksum.appendImage(chunk)
            id += n
        }
        checksum.setActiveMeta(txID: txID)
        return checksum.value
    }

    /// Opens the restored file read-only with the engine and runs its consistency check.
    static func consistencyCheck(_ path: String, output: String) throws {
        var openOptions = DB.Options()
        openOptions.readOnly = true
        let problems: [String]
        do {
            let db = try DB.open(path: path, options: openOptions)
            defer { try? db.close() }
            problems = try db.view { tx in tx.check() }
        } catch {
            throw StreamError(.corruptArtefact, "\(output): the restored database does not open: \(error)")
        }
        guard problems.isEmpty else {
            let shown = problems.prefix(5).joined(separator: "; ")
            throw StreamError(.corruptArtefact, "\(output): the restored database fails its consistency check (\(problems.count) problems): \(shown)")
        }
    }
}
