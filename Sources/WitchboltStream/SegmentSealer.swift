// Licensed under the Apache License, Version 2.0.
//
// Sealing: the records of the open segment become one immutable, compressed, checksummed
// file in the shadow directory. The order is what makes it safe to ship: encode, write to a
// temporary name, fsync, rename into place, fsync the directory, then READ IT BACK and decode
// it (checksums, header, txid continuity) before the segment counts as ready. A segment that
// does not survive the read-back is deleted and never shipped.

import Foundation
import Witchbolt

/// Seals records into segment files.
struct SegmentSealer {
    let shadow: ShadowLog
    let databaseID: String
    let codec: CompressionCodec

    /// Seals `records` (consecutive txids of `generation`, checksums filled in) and returns the
    /// ready segment.
    func seal(generation: Generation, pageSize: Int, records: [TransactionRecord]) throws -> ShadowArtefact {
        guard let first = records.first, let last = records.last else {
            throw StreamError(.io, "no records to seal in generation \(generation)")
        }
        let header = ArtefactHeader(
            kind: .segment, formatVersion: 1, databaseID: databaseID, generation: generation,
            minTxID: first.txID, maxTxID: last.txID, pageSize: UInt32(pageSize),
            firstTimestampMillis: first.timestampMillis, lastTimestampMillis: last.timestampMillis,
            codec: codec)
        var artefact = ShadowArtefact(
            kind: .segment, generation: generation, minTxID: first.txID, maxTxID: last.txID, size: 0,
            firstTimestampMillis: first.timestampMillis, lastTimestampMillis: last.timestampMillis)
        let path = shadow.path(of: artefact)

        // Encode and write durably under the final name.
        let bytes = try SegmentFile.encode(header: header, records: records)
        try ShadowFileIO.makeDirectory(ShadowFileIO.directory(of: path))
        try ShadowFileIO.writeAtomically(bytes, to: path)

        // Read back what the disk holds and check it is what we meant to write.
        do {
            let (readHeader, readRecords) = try SegmentFile.decode(try ShadowFileIO.read(path), name: artefact.key)
            guard readHeader == header, readRecords.count == records.count,
                  zip(readRecords, records).allSatisfy({ $0.txID == $1.txID && $0.databaseChecksum == $1.databaseChecksum })
            else {
                throw StreamError(.corruptArtefact, "\(path): the sealed segment reads back differently from what was written")
            }
        } catch {
            ShadowFileIO.remove(path)
            throw error
        }
        artefact.size = Int64(bytes.count)
        return artefact
    }
}
