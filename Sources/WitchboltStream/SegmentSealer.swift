// Licensed under the Apache License, Version 2.0.
//
// Sealing: the records of the open segment become one immutable, compressed, checksummed
// file in the shadow directory. The order is what makes it safe to ship: encode, write to a
// temporary name, fsync, rename into place, fsync the directory, then READ IT BACK and check
// it (the bytes, the header, the trailer and checksum, and a body that decompresses to exactly
// the encoded records) before the segment counts as ready. A segment that does not survive
// the read-back is deleted and never shipped.

import Foundation
import Witchbolt

/// Seals the open segment into segment files. One per writer thread: it keeps its codec's
/// contexts and its buffers from one seal to the next (a fresh multi-megabyte buffer is
/// faulted in page by page, and under heavy writes the writer seals many times a second).
final class SegmentSealer {
    let shadow: ShadowLog
    let databaseID: String
    let codec: BodyCodec
    /// Buffers up to this size are kept between seals.
    let keptCapacity: Int
    private var encoded: [UInt8] = []
    private var readBack: [UInt8] = []

    /// A sealer writing into `shadow` with `codec`, keeping buffers up to `keptCapacity` bytes.
    init(shadow: ShadowLog, databaseID: String, codec: CompressionCodec, keptCapacity: Int) {
        self.shadow = shadow
        self.databaseID = databaseID
        self.codec = BodyCodec(codec: codec)
        self.keptCapacity = keptCapacity
    }

    /// Seals the records of `segment` (consecutive txids of `generation`, checksums filled in)
    /// and returns the ready segment.
    func seal(generation: Generation, pageSize: Int, segment: OpenSegment) throws -> ShadowArtefact {
        defer {
            Self.trim(&encoded, keeping: keptCapacity)
            Self.trim(&readBack, keeping: keptCapacity)
        }
        guard let first = segment.first, let last = segment.last else {
            throw StreamError(.io, "no records to seal in generation \(generation)")
        }
        let header = ArtefactHeader(
            kind: .segment, formatVersion: 1, databaseID: databaseID, generation: generation,
            minTxID: first.txID, maxTxID: last.txID, pageSize: UInt32(pageSize),
            firstTimestampMillis: first.timestampMillis, lastTimestampMillis: last.timestampMillis,
            codec: codec.codec)
        var artefact = ShadowArtefact(
            kind: .segment, generation: generation, minTxID: first.txID, maxTxID: last.txID, size: 0,
            firstTimestampMillis: first.timestampMillis, lastTimestampMillis: last.timestampMillis)
        let path = shadow.path(of: artefact)

        // Encode and write durably under the final name.
        try SegmentFile.encode(header: header, payload: segment.payload, links: segment.links, codec: codec, into: &encoded)
        try ShadowFileIO.makeDirectory(ShadowFileIO.directory(of: path))
        try ShadowFileIO.writeAtomically(encoded, to: path)

        // Read back what the disk holds and check it is what we meant to write: the file byte
        // for byte, its header, trailer and checksum, and its body decompressed to exactly the
        // records encoded (each with its own checksum) when they arrived.
        do {
            try ShadowFileIO.read(path, into: &readBack)
            guard sameBytes(readBack[...], encoded[...]) else {
                throw StreamError(.corruptArtefact, "\(path): the sealed segment reads back differently from what was written")
            }
            let envelope = try SegmentFile.envelope(readBack, name: artefact.key)
            guard envelope.header == header, envelope.recordCount == UInt64(segment.count),
                  envelope.payloadSize == UInt64(segment.byteCount),
                  try codec.decompresses(readBack[envelope.body], to: segment.payload[...], name: artefact.key)
            else {
                throw StreamError(.corruptArtefact, "\(path): the sealed segment does not decompress to the records it was made of")
            }
        } catch {
            ShadowFileIO.remove(path)
            throw error
        }
        artefact.size = Int64(encoded.count)
        return artefact
    }

    /// Empties `buffer`, keeping its memory if it is not larger than `limit`.
    static func trim(_ buffer: inout [UInt8], keeping limit: Int) {
        buffer.removeAll(keepingCapacity: buffer.capacity <= limit)
    }
}
