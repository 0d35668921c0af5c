// Licensed under the Apache License, Version 2.0.
//
// A sealed segment: the header, the transaction records compressed as one body, and a
// trailer with the record count, the sizes, and an XXH64 of the whole file. Segments are
// bounded (a sync interval's worth of commits), so they are built and read in memory.
// Decoding trusts nothing: it checks the file checksum before decompressing, bounds the
// decompressed size by the trailer, and checks every record's checksum, frame sizes, page
// ids, and the txid chain against the header. Byte table in docs/FORMAT.md.

import Witchbolt

/// Encodes and decodes segment files.
public enum SegmentFile {
    /// The trailer's size: record count, payload size, body size, file checksum.
    public static let trailerSize = 32
    /// The largest decompressed body a segment may announce (segments are held in memory).
    public static let maxPayloadSize: UInt64 = 1 << 32

    /// The bytes of a segment holding `records` (consecutive txids, matching `header`).
    public static func encode(header: ArtefactHeader, records: [TransactionRecord]) throws -> [UInt8] {
        let name = "segment \(hex(header.minTxID, digits: 16))-\(hex(header.maxTxID, digits: 16))"
        guard header.kind == .segment else {
            throw StreamError(.corruptArtefact, "\(name): header kind is \(header.kind), not segment")
        }
        try checkChain(header: header, records: records, name: name)
        // The payload: the records, one after the other.
        var payload = ByteWriter(capacity: records.reduce(0) { $0 + $1.encodedSize })
        for record in records { try record.encode(into: &payload) }
        let body = try Compression.compress(payload.bytes, codec: header.codec)
        // The file: header, body, trailer; the checksum covers everything before it.
        var w = ByteWriter(capacity: ArtefactHeader.encodedSize + body.count + trailerSize)
        w.raw(try header.encode())
        w.raw(body)
        w.u64(UInt64(records.count))
        w.u64(UInt64(payload.bytes.count))
        w.u64(UInt64(body.count))
        w.u64(XXH64.hash(w.bytes))
        return w.bytes
    }

    /// Decodes a segment file named `name` (the replica key or local path, for messages).
    ///
    /// Errors are `StreamError(.corruptArtefact, "<name>: what is wrong")`.
    public static func decode(_ bytes: [UInt8], name: String) throws -> (ArtefactHeader, [TransactionRecord]) {
        let header = try ArtefactHeader.decode(bytes[...], expecting: .segment, name: name)
        guard bytes.count >= ArtefactHeader.encodedSize + trailerSize else {
            throw StreamError(.corruptArtefact, "\(name): truncated: \(bytes.count) bytes, no room for the trailer")
        }
        // The file checksum first: truncation and bit flips stop here, before decompression.
        let stored = loadLE64(bytes[...], at: bytes.count - 8)
        guard XXH64.hash(bytes[0..<(bytes.count - 8)]) == stored else {
            throw StreamError(.corruptArtefact, "\(name): file checksum mismatch (damaged or truncated)")
        }
        var trailer = ByteReader(bytes[(bytes.count - trailerSize)...], name: name)
        let recordCount = try trailer.u64("record count")
        let payloadSize = try trailer.u64("payload size")
        let bodySize = try trailer.u64("body size")
        let bodyEnd = bytes.count - trailerSize
        guard bodySize == UInt64(bodyEnd - ArtefactHeader.encodedSize) else {
            throw StreamError(.corruptArtefact, "\(name): trailer body size \(bodySize) does not match the file")
        }
        guard payloadSize <= maxPayloadSize else {
            throw StreamError(.corruptArtefact, "\(name): announced body of \(payloadSize) bytes is too large")
        }
        // Then the body, bounded by the size the trailer announced.
        let body = Array(bytes[ArtefactHeader.encodedSize..<bodyEnd])
        let payload = try Compression.decompress(body, codec: header.codec, expectedCount: payloadSize, name: name)
        // Then every record, and the chain they form against the header.
        guard recordCount <= payloadSize / UInt64(TransactionRecord.fixedSize + 8) else {
            throw StreamError(.corruptArtefact, "\(name): record count \(recordCount) cannot fit in \(payloadSize) bytes")
        }
        var reader = ByteReader(payload[...], name: name)
        var records: [TransactionRecord] = []
        records.reserveCapacity(Int(recordCount))
        for _ in 0..<recordCount {
            records.append(try TransactionRecord.decode(from: &reader, pageSize: header.pageSize))
        }
        guard reader.remaining == 0 else {
            throw StreamError(.corruptArtefact, "\(name): \(reader.remaining) stray bytes after the last record")
        }
        try checkChain(header: header, records: records, name: name)
        return (header, records)
    }

    /// Reads only the header of a segment (its first 160 bytes).
    public static func decodeHeader(_ bytes: [UInt8], name: String) throws -> ArtefactHeader {
        try ArtefactHeader.decode(bytes[...], expecting: .segment, name: name)
    }

    /// Checks that `records` are consecutive, span the header's txids and times, and share its page size.
    static func checkChain(header: ArtefactHeader, records: [TransactionRecord], name: String) throws {
        guard let first = records.first, let last = records.last else {
            throw StreamError(.corruptArtefact, "\(name): holds no transaction")
        }
        guard first.txID == header.minTxID, last.txID == header.maxTxID else {
            throw StreamError(.corruptArtefact, "\(name): records span txids \(first.txID)...\(last.txID), the header says \(header.minTxID)...\(header.maxTxID)")
        }
        guard first.timestampMillis == header.firstTimestampMillis, last.timestampMillis == header.lastTimestampMillis else {
            throw StreamError(.corruptArtefact, "\(name): record commit times do not match the header's")
        }
        var previous: TransactionRecord?
        for record in records {
            guard record.pageSize == header.pageSize else {
                throw StreamError(.corruptArtefact, "\(name): txid \(record.txID): page size \(record.pageSize) differs from the header's \(header.pageSize)")
            }
            guard record.parentTxID &+ 1 == record.txID else {
                throw StreamError(.corruptArtefact, "\(name): txid \(record.txID): parent txid \(record.parentTxID) is not txid - 1")
            }
            if let previous {
                guard record.parentTxID == previous.txID else {
                    throw StreamError(.corruptArtefact, "\(name): txid \(record.txID) follows txid \(previous.txID): the chain is broken")
                }
                guard record.timestampMillis >= previous.timestampMillis else {
                    throw StreamError(.corruptArtefact, "\(name): txid \(record.txID): commit time goes backwards")
                }
            }
            for frame in record.frames {
                guard frame.data.count == (Int(frame.overflow) + 1) * Int(record.pageSize) else {
                    throw StreamError(.corruptArtefact, "\(name): txid \(record.txID): frame of page \(frame.id) has \(frame.data.count) bytes, not (overflow + 1) * page size")
                }
                let (end, overflowed) = frame.id.addingReportingOverflow(UInt64(frame.overflow) + 1)
                guard !overflowed, end <= record.highWaterMark else {
                    throw StreamError(.corruptArtefact, "\(name): txid \(record.txID): page \(frame.id) is past the high-water mark \(record.highWaterMark)")
                }
            }
            previous = record
        }
    }
}
