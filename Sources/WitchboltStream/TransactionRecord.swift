// Licensed under the Apache License, Version 2.0.
//
// One committed transaction as the stream ships it: what the engine's page-flush observer
// delivered (txid, parent, time, page size, high-water mark, every frame with the meta page
// last) plus the whole-database checksum after applying it. Encoded inside a segment's body
// with its own XXH64, so a damaged record is named by txid. Byte table in docs/FORMAT.md.

import Witchbolt

/// One committed transaction: the exact frames it wrote and the checksum of the image after it.
public struct TransactionRecord: Sendable, Equatable {
    public var txID: UInt64, parentTxID: UInt64
    /// Commit time in milliseconds since the Unix epoch.
    public var timestampMillis: Int64
    public var pageSize: UInt32
    /// The page count after the commit: the image is pages `[0, highWaterMark)`.
    public var highWaterMark: UInt64
    /// Every page the commit wrote, in write order (meta page last).
    public var frames: [PageFrame]
    /// The whole-database checksum (``DatabaseChecksum``) after applying this record.
    public var databaseChecksum: UInt64

    /// Creates a record.
    public init(
        txID: UInt64, parentTxID: UInt64, timestampMillis: Int64, pageSize: UInt32,
        highWaterMark: UInt64, frames: [PageFrame], databaseChecksum: UInt64
    ) {
        self.txID = txID
        self.parentTxID = parentTxID
        self.timestampMillis = timestampMillis
        self.pageSize = pageSize
        self.highWaterMark = highWaterMark
        self.frames = frames
        self.databaseChecksum = databaseChecksum
    }

    /// A record of what a page-flush observer received, with the checksum after it.
    public init(_ info: PageFlushInfo, databaseChecksum: UInt64) {
        self.init(
            txID: info.txID, parentTxID: info.parentTxID, timestampMillis: info.timestampMillis,
            pageSize: UInt32(info.pageSize), highWaterMark: info.highWaterMark, frames: info.frames,
            databaseChecksum: databaseChecksum)
    }

    /// The record's place in the chain, without its frames.
    var link: RecordLink {
        RecordLink(txID: txID, parentTxID: parentTxID, timestampMillis: timestampMillis, pageSize: pageSize, databaseChecksum: databaseChecksum)
    }

    /// The size of the fixed part before the frames.
    static let fixedSize = 48
    /// The size of a frame's header (id, overflow) before its bytes.
    static let frameHeaderSize = 12

    /// The encoded size of this record in bytes.
    public var encodedSize: Int {
        Self.fixedSize + frames.reduce(0) { $0 + Self.frameHeaderSize + $1.data.count } + 8
    }

    /// Checks that every frame lies below the high-water mark (what a segment may hold; the
    /// encoding itself checks only the frames' sizes).
    func checkFrames() throws {
        for frame in frames {
            let (end, overflowed) = frame.id.addingReportingOverflow(UInt64(frame.overflow) + 1)
            guard !overflowed, end <= highWaterMark else {
                throw StreamError(.corruptArtefact, "txid \(txID): page \(frame.id) (overflow \(frame.overflow)) is past the high-water mark \(highWaterMark)")
            }
        }
    }

    /// Appends the encoded record to `writer`.
    func encode(into w: inout ByteWriter) throws {
        let start = w.bytes.count
        w.u64(txID)
        w.u64(parentTxID)
        w.i64(timestampMillis)
        w.u32(pageSize)
        w.u32(UInt32(frames.count))
        w.u64(highWaterMark)
        w.u64(databaseChecksum)
        for frame in frames {
            guard frame.data.count == (Int(frame.overflow) + 1) * Int(pageSize) else {
                throw StreamError(.corruptArtefact, "txid \(txID): frame of page \(frame.id) has \(frame.data.count) bytes, not (overflow \(frame.overflow) + 1) * page size \(pageSize)")
            }
            w.u64(frame.id)
            w.u32(frame.overflow)
            w.raw(frame.data)
        }
        w.u64(XXH64.hash(w.bytes[start...]))
    }

    /// Decodes one record from `reader` and checks its own consistency: its checksum, frame
    /// sizes, page ids below the high-water mark, and `txID == parentTxID + 1`. Without
    /// `copyFrames`, every check runs but the frames are left out (a segment checked whole
    /// before its records are applied one at a time); `checksumVerified` skips the hash of
    /// bytes such a pass already checked (the same bytes, held unchanged since).
    static func decode(from r: inout ByteReader, pageSize expected: UInt32, copyFrames: Bool = true, checksumVerified: Bool = false) throws -> TransactionRecord {
        let start = r.offset
        let name = r.name
        let txID = try r.u64("record txid")
        let parent = try r.u64("record parent txid")
        let time = try r.i64("record timestamp")
        let pageSize = try r.u32("record page size")
        let frameCount = Int(try r.u32("record frame count"))
        let hwm = try r.u64("record high-water mark")
        let checksum = try r.u64("record database checksum")
        guard pageSize == expected else {
            throw StreamError(.corruptArtefact, "\(name): txid \(txID): page size \(pageSize) differs from the header's \(expected)")
        }
        guard frameCount <= r.remaining / (frameHeaderSize + Int(pageSize)) else {
            throw StreamError(.corruptArtefact, "\(name): txid \(txID): \(frameCount) frames do not fit in the \(r.remaining) bytes left")
        }
        var frames: [PageFrame] = []
        if copyFrames { frames.reserveCapacity(frameCount) }
        for _ in 0..<frameCount {
            let id = try r.u64("frame page id")
            let overflow = try r.u32("frame overflow")
            let (size, overflowed) = (UInt64(overflow) + 1).multipliedReportingOverflow(by: UInt64(pageSize))
            guard !overflowed, size <= UInt64(r.remaining) else {
                throw StreamError(.corruptArtefact, "\(name): txid \(txID): frame of page \(id) with overflow \(overflow) runs past the end of the body")
            }
            let (end, endOverflowed) = id.addingReportingOverflow(UInt64(overflow) + 1)
            guard !endOverflowed, end <= hwm else {
                throw StreamError(.corruptArtefact, "\(name): txid \(txID): page \(id) (overflow \(overflow)) is past the high-water mark \(hwm)")
            }
            let data = try r.take(Int(size), "frame data")
            if copyFrames { frames.append(PageFrame(id: id, overflow: overflow, data: Array(data))) }
        }
        let body = r.bytes[start..<r.offset]
        let stored = try r.u64("record checksum")
        guard checksumVerified || XXH64.hash(body) == stored else {
            throw StreamError(.corruptArtefact, "\(name): txid \(txID): record checksum mismatch")
        }
        guard parent &+ 1 == txID, txID != 0 else {
            throw StreamError(.corruptArtefact, "\(name): txid \(txID): parent txid \(parent) is not txid - 1")
        }
        return TransactionRecord(
            txID: txID, parentTxID: parent, timestampMillis: time, pageSize: pageSize,
            highWaterMark: hwm, frames: frames, databaseChecksum: checksum)
    }
}

/// What the chain of a segment is checked on, and what sealing keeps of a record once its
/// frames are encoded: its txids, commit time, page size and whole-database checksum.
struct RecordLink: Sendable, Equatable {
    var txID: UInt64, parentTxID: UInt64
    var timestampMillis: Int64
    var pageSize: UInt32
    var databaseChecksum: UInt64
}
