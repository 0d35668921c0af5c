// Licensed under the Apache License, Version 2.0.
//
// The header every artefact (snapshot or segment) starts with: 160 bytes, fixed size,
// uncompressed, with its own checksum, so that a catalog can learn an artefact's database,
// generation, txid range and commit times from a 160-byte range read without downloading the
// body. Byte table in docs/FORMAT.md.

/// The header of a snapshot or segment file.
public struct ArtefactHeader: Sendable, Equatable {
    /// What the file holds.
    public enum Kind: UInt8, Sendable {
        case snapshot = 1, segment = 2

        /// The four magic bytes of this kind of file: `WBSN` or `WBSG`.
        public var magic: [UInt8] {
            switch self {
            case .snapshot: Array("WBSN".utf8)
            case .segment: Array("WBSG".utf8)
            }
        }
    }

    /// The format version this code writes and reads.
    public static let currentFormatVersion: UInt16 = 1
    /// The encoded size of a header in bytes.
    public static let encodedSize = 160
    /// The longest database id a header holds, in bytes.
    public static let maxDatabaseIDLength = 64

    public var kind: Kind
    public var formatVersion: UInt16
    /// The database's random id (a UUID string), the same in every artefact of a database.
    public var databaseID: String
    public var generation: Generation
    /// The txid range the artefact covers; for a snapshot both are the snapshot's txid.
    public var minTxID: UInt64, maxTxID: UInt64
    public var pageSize: UInt32
    /// Commit times (ms since the Unix epoch) of the first and last transaction held; for a
    /// snapshot, the commit time of its txid as far as the writer knows it (or the time the
    /// snapshot was taken), both equal.
    public var firstTimestampMillis: Int64, lastTimestampMillis: Int64
    public var codec: CompressionCodec

    /// Creates a header.
    public init(
        kind: Kind, formatVersion: UInt16 = ArtefactHeader.currentFormatVersion, databaseID: String,
        generation: Generation, minTxID: UInt64, maxTxID: UInt64, pageSize: UInt32,
        firstTimestampMillis: Int64, lastTimestampMillis: Int64, codec: CompressionCodec
    ) {
        self.kind = kind
        self.formatVersion = formatVersion
        self.databaseID = databaseID
        self.generation = generation
        self.minTxID = minTxID
        self.maxTxID = maxTxID
        self.pageSize = pageSize
        self.firstTimestampMillis = firstTimestampMillis
        self.lastTimestampMillis = lastTimestampMillis
        self.codec = codec
    }

    /// The 160 bytes of this header (docs/FORMAT.md, "Artefact header").
    public func encode() throws -> [UInt8] {
        try validate(name: "header")
        var w = ByteWriter(capacity: Self.encodedSize)
        w.raw(kind.magic)
        w.u16(formatVersion)
        w.u8(kind.rawValue)
        w.u8(codec.formatID)
        w.i32(Int32(clamping: codec.level))
        w.u32(pageSize)
        w.u64(minTxID)
        w.u64(maxTxID)
        w.i64(firstTimestampMillis)
        w.i64(lastTimestampMillis)
        w.u64(0)
        w.fixed(generation.rawValue, width: 24)
        w.u8(UInt8(databaseID.utf8.count))
        w.raw([UInt8](repeating: 0, count: 7))
        w.fixed(databaseID, width: Self.maxDatabaseIDLength)
        w.u64(XXH64.hash(w.bytes))
        return w.bytes
    }

    /// Decodes and checks the header at the start of `bytes` (at least 160 bytes) of the
    /// artefact `name`, expecting `kind`.
    public static func decode(_ bytes: ArraySlice<UInt8>, expecting kind: Kind, name: String) throws -> ArtefactHeader {
        guard bytes.count >= encodedSize else {
            throw StreamError(.corruptArtefact, "\(name): truncated: \(bytes.count) bytes, shorter than the \(encodedSize)-byte header")
        }
        let start = bytes.startIndex
        let magic = Array(bytes[start..<(start + 4)])
        guard magic == kind.magic else {
            let other: Kind = kind == .snapshot ? .segment : .snapshot
            if magic == other.magic {
                throw StreamError(.corruptArtefact, "\(name): is a \(other) file, not a \(kind)")
            }
            throw StreamError(.corruptArtefact, "\(name): not a Witchbolt \(kind) (bad magic)")
        }
        var r = ByteReader(bytes[start..<(start + encodedSize)], name: name)
        _ = try r.take(4, "magic")
        let version = try r.u16("format version")
        guard version == currentFormatVersion else {
            throw StreamError(.corruptArtefact, "\(name): unsupported format version \(version) (this build reads \(currentFormatVersion))")
        }
        let stored = loadLE64(bytes, at: start + encodedSize - 8)
        guard XXH64.hash(bytes[start..<(start + encodedSize - 8)]) == stored else {
            throw StreamError(.corruptArtefact, "\(name): header checksum mismatch")
        }
        let kindByte = try r.u8("kind")
        guard kindByte == kind.rawValue else {
            throw StreamError(.corruptArtefact, "\(name): header kind \(kindByte) does not match its magic")
        }
        let codecID = try r.u8("codec")
        let level = try r.i32("codec level")
        guard let codec = CompressionCodec(formatID: codecID, level: Int(level)) else {
            throw StreamError(.corruptArtefact, "\(name): unknown codec \(codecID)")
        }
        let pageSize = try r.u32("page size")
        let minTxID = try r.u64("min txid")
        let maxTxID = try r.u64("max txid")
        let first = try r.i64("first timestamp")
        let last = try r.i64("last timestamp")
        _ = try r.u64("reserved")
        let genBytes = try r.take(24, "generation")
        guard let generation = Generation(rawValue: String(decoding: genBytes, as: UTF8.self)) else {
            throw StreamError(.corruptArtefact, "\(name): malformed generation id in header")
        }
        let idLength = Int(try r.u8("database id length"))
        _ = try r.take(7, "reserved")
        let idBytes = try r.take(maxDatabaseIDLength, "database id")
        guard idLength <= maxDatabaseIDLength else {
            throw StreamError(.corruptArtefact, "\(name): database id length \(idLength) is too long")
        }
        let header = ArtefactHeader(
            kind: kind, formatVersion: version,
            databaseID: String(decoding: idBytes.prefix(idLength), as: UTF8.self),
            generation: generation, minTxID: minTxID, maxTxID: maxTxID, pageSize: pageSize,
            firstTimestampMillis: first, lastTimestampMillis: last, codec: codec)
        try header.validate(name: name)
        return header
    }

    /// Checks the fields' own consistency (not the file around them).
    func validate(name: String) throws {
        guard !databaseID.isEmpty, databaseID.utf8.count <= Self.maxDatabaseIDLength,
              databaseID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw StreamError(.corruptArtefact, "\(name): database id must be 1...\(Self.maxDatabaseIDLength) printable ASCII characters")
        }
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw StreamError(.corruptArtefact, "\(name): page size \(pageSize) is not a power of two in 512...65536")
        }
        guard minTxID <= maxTxID else {
            throw StreamError(.corruptArtefact, "\(name): min txid \(minTxID) is after max txid \(maxTxID)")
        }
        guard kind == .segment || minTxID == maxTxID else {
            throw StreamError(.corruptArtefact, "\(name): a snapshot's min and max txid differ")
        }
        guard firstTimestampMillis <= lastTimestampMillis else {
            throw StreamError(.corruptArtefact, "\(name): first commit time is after the last")
        }
    }
}

extension ArtefactHeader.Kind: CustomStringConvertible {
    public var description: String { self == .snapshot ? "snapshot" : "segment" }
}
