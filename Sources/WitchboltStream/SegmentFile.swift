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
        var payload = ByteWriter(capacity: records.reduce(0) { $0 + $1.encodedSize })
        for record in records {
            try record.checkFrames()
            try record.encode(into: &payload)
        }
        var bytes: [UInt8] = []
        try encode(header: header, payload: payload.bytes, links: records.map(\.link), codec: BodyCodec(codec: header.codec), into: &bytes)
        return bytes
    }

    /// The bytes of a segment whose body is `payload`, the records of `links` already encoded
    /// back to back (as the open segment keeps them), compressed with `codec`, into `bytes`
    /// (replacing its contents, reusing its capacity).
    static func encode(header: ArtefactHeader, payload: [UInt8], links: [RecordLink], codec: BodyCodec, into bytes: inout [UInt8]) throws {
        let name = "segment \(hex(header.minTxID, digits: 16))-\(hex(header.maxTxID, digits: 16))"
        guard header.kind == .segment else {
            throw StreamError(.corruptArtefact, "\(name): header kind is \(header.kind), not segment")
        }
        guard codec.codec == header.codec else {
            throw StreamError(.io, "\(name): the codec \(codec.codec) is not the header's \(header.codec)")
        }
        try checkChain(header: header, links: links, name: name)
        // The file: header, body, trailer; the checksum covers everything before it.
        var w = ByteWriter()
        swap(&w.bytes, &bytes)
        defer { swap(&w.bytes, &bytes) }
        w.bytes.removeAll(keepingCapacity: true)
        w.raw(try header.encode())
        try codec.compress(payload[...], appendingTo: &w.bytes)
        let bodySize = w.bytes.count - ArtefactHeader.encodedSize
        w.u64(UInt64(links.count))
        w.u64(UInt64(payload.count))
        w.u64(UInt64(bodySize))
        w.u64(XXH64.hash(w.bytes))
    }

    /// What the frame of a segment file says, checked without decompressing it.
    struct Envelope {
        var header: ArtefactHeader
        /// Where the compressed body lies in the file.
        var body: Range<Int>
        var recordCount: UInt64
        var payloadSize: UInt64
    }

    /// Checks the header, the trailer and the file checksum of a segment named `name`,
    /// without decompressing its body: what the uploader checks before shipping a segment that
    /// was verified record by record when it was sealed.
    static func envelope(_ bytes: [UInt8], name: String) throws -> Envelope {
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
        guard recordCount <= payloadSize / UInt64(TransactionRecord.fixedSize + 8) else {
            throw StreamError(.corruptArtefact, "\(name): record count \(recordCount) cannot fit in \(payloadSize) bytes")
        }
        return Envelope(header: header, body: ArtefactHeader.encodedSize..<bodyEnd, recordCount: recordCount, payloadSize: payloadSize)
    }

    /// Decodes a segment file named `name` (the replica key or local path, for messages).
    ///
    /// Errors are `StreamError(.corruptArtefact, "<name>: what is wrong")`.
    public static func decode(_ bytes: [UInt8], name: String) throws -> (ArtefactHeader, [TransactionRecord]) {
        let checked = try Checked(bytes, name: name)
        var records: [TransactionRecord] = []
        try checked.forEachRecord { records.append($0); return true }
        return (checked.header, records)
    }

    /// A segment whose file, body, records and chain were checked, holding its records encoded:
    /// ``forEachRecord(_:)`` decodes them one at a time, so that a restore holds one record's
    /// frames at a time rather than a whole segment's (16 MiB by default) twice over.
    struct Checked {
        let header: ArtefactHeader
        let name: String
        private let payload: [UInt8]
        private let recordCount: UInt64

        /// Checks the segment `bytes` named `name`: the envelope, then the body, bounded by
        /// the size the trailer announced, then every record and the chain they form against
        /// the header, without keeping any record's frames.
        init(_ bytes: [UInt8], name: String) throws {
            let envelope = try SegmentFile.envelope(bytes, name: name)
            var payload: [UInt8] = []
            try BodyCodec(codec: envelope.header.codec).decompress(bytes[envelope.body], expectedCount: envelope.payloadSize, name: name, into: &payload)
            var reader = ByteReader(payload[...], name: name)
            var links: [RecordLink] = []
            links.reserveCapacity(Int(envelope.recordCount))
            for _ in 0..<envelope.recordCount {
                links.append(try TransactionRecord.decode(from: &reader, pageSize: envelope.header.pageSize, copyFrames: false).link)
            }
            guard reader.remaining == 0 else {
                throw StreamError(.corruptArtefact, "\(name): \(reader.remaining) stray bytes after the last record")
            }
            try SegmentFile.checkChain(header: envelope.header, links: links, name: name)
            self.header = envelope.header
            self.name = name
            self.payload = payload
            self.recordCount = envelope.recordCount
        }

        /// Calls `body` with each record, frames included, in txid order, until it returns false.
        /// (The records' checksums were verified by `init` over the same, immutable payload.)
        func forEachRecord(_ body: (TransactionRecord) throws -> Bool) throws {
            var reader = ByteReader(payload[...], name: name)
            for _ in 0..<recordCount {
                guard try body(TransactionRecord.decode(from: &reader, pageSize: header.pageSize, checksumVerified: true)) else { return }
            }
        }
    }

    /// Reads only the header of a segment (its first 160 bytes).
    public static func decodeHeader(_ bytes: [UInt8], name: String) throws -> ArtefactHeader {
        try ArtefactHeader.decode(bytes[...], expecting: .segment, name: name)
    }

    /// Checks that `links` are consecutive, span the header's txids and times, and share its
    /// page size. (Each record's frames are checked where it is encoded or decoded.)
    static func checkChain(header: ArtefactHeader, links: [RecordLink], name: String) throws {
        guard let first = links.first, let last = links.last else {
            throw StreamError(.corruptArtefact, "\(name): holds no transaction")
        }
        guard first.txID == header.minTxID, last.txID == header.maxTxID else {
            throw StreamError(.corruptArtefact, "\(name): records span txids \(first.txID)...\(last.txID), the header says \(header.minTxID)...\(header.maxTxID)")
        }
        guard first.timestampMillis == header.firstTimestampMillis, last.timestampMillis == header.lastTimestampMillis else {
            throw StreamError(.corruptArtefact, "\(name): record commit times do not match the header's")
        }
        var previous: RecordLink?
        for record in links {
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
            previous = record
        }
    }
}
