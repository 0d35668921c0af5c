// Licensed under the Apache License, Version 2.0.
//
// The open segment: the records the writer appended since the last seal, held in the
// encoding a sealed segment's body is made of (each record once, ending with its own XXH64).
// A record is encoded once, when it arrives: the open log appends those bytes, sealing
// compresses them as they are, and the read-back check compares the decompressed file with
// them. Before, each of those steps encoded or decoded the frames again, and under random
// writes (megabytes of frames a commit) the writer thread could not keep up.
//
// Only each record's chain fields stay decoded (`RecordLink`), for the segment header and the
// chain check; the frames are released once encoded.

/// The records of the open segment, encoded back to back.
struct OpenSegment {
    /// The encoded records, in txid order.
    private(set) var payload: [UInt8] = []
    /// Each record's chain fields, in the same order.
    private(set) var links: [RecordLink] = []
    /// A buffer this large or smaller is kept for the next segment; a larger one (a segment
    /// holding one huge commit) is given back.
    let keptCapacity: Int

    /// An empty segment keeping up to `keptCapacity` bytes of buffer between segments.
    init(keptCapacity: Int) {
        self.keptCapacity = keptCapacity
    }

    var isEmpty: Bool { links.isEmpty }
    var count: Int { links.count }
    /// The size of the encoded records (what the segment size limit is measured on).
    var byteCount: Int { payload.count }
    var first: RecordLink? { links.first }
    var last: RecordLink? { links.last }

    /// Encodes `record` at the end and returns where its bytes are in `payload`. A record that
    /// cannot be encoded leaves the segment as it was.
    @discardableResult
    mutating func append(_ record: TransactionRecord) throws -> Range<Int> {
        try record.checkFrames()
        let start = payload.count
        var writer = ByteWriter()
        swap(&writer.bytes, &payload)
        defer { swap(&writer.bytes, &payload) }
        let needed = start + record.encodedSize
        if needed > writer.bytes.capacity { writer.bytes.reserveCapacity(max(needed, 2 * writer.bytes.capacity)) }
        do {
            try record.encode(into: &writer)
        } catch {
            writer.bytes.removeSubrange(start...)
            throw error
        }
        links.append(record.link)
        return start..<writer.bytes.count
    }

    /// Empties the segment (sealed, or dropped with its generation).
    mutating func removeAll() {
        payload.removeAll(keepingCapacity: payload.capacity <= keptCapacity)
        links.removeAll(keepingCapacity: true)
    }
}
