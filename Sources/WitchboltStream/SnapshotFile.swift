// Licensed under the Apache License, Version 2.0.
//
// A snapshot file: the header, the database image (pages [0, hwm) as a read transaction sees
// them) compressed as one stream, and a trailer with the high-water mark, the whole-database
// checksum, the sizes, and an XXH64 of the whole file. Writer and reader both stream: memory
// stays at one chunk plus the codec's window whatever the database size. The reader hands
// out image bytes before it has seen the trailer, so callers treat them as provisional until
// `read(into:)` returns (restore writes them to a temporary file and renames only after).
// Byte table in docs/FORMAT.md.

/// The trailer's size: high-water mark, database checksum, image size, body size, file checksum.
let snapshotTrailerSize = 40

/// Writes a snapshot file from a stream of image bytes.
public final class SnapshotWriter {
    /// The file being written.
    public let path: String
    /// The header written at the start.
    public let header: ArtefactHeader
    private var file: LocalFile?
    private let compressor: StreamingCompressor
    private var hasher = XXH64()
    private var pending: [UInt8] = []
    private var offset: Int64 = 0
    private var imageSize: UInt64 = 0
    private static let flushSize = 1 << 20

    /// Creates (or truncates) the file at `path` and writes `header`.
    public init(path: String, header: ArtefactHeader) throws {
        guard header.kind == .snapshot else {
            throw StreamError(.corruptArtefact, "\(path): a snapshot needs a snapshot header, not \(header.kind)")
        }
        self.path = path
        self.header = header
        self.compressor = try StreamingCompressor(codec: header.codec)
        self.file = try LocalFile.create(path)
        try emit(try header.encode())
    }

    /// Appends image bytes (any chunking; pages need not be aligned to chunks).
    public func append(_ bytes: [UInt8]) throws {
        guard file != nil else { throw StreamError(.io, "\(path): snapshot already finished") }
        imageSize += UInt64(bytes.count)
        try compressor.compress(bytes) { try emit($0) }
    }

    /// Writes the trailer, fsyncs and closes the file. The image appended must be exactly
    /// `highWaterMark` pages.
    public func finish(highWaterMark: UInt64, databaseChecksum: UInt64) throws {
        guard file != nil else { throw StreamError(.io, "\(path): snapshot already finished") }
        let (expected, overflow) = highWaterMark.multipliedReportingOverflow(by: UInt64(header.pageSize))
        guard !overflow, expected == imageSize else {
            throw StreamError(.corruptArtefact, "\(path): snapshot image is \(imageSize) bytes, not \(highWaterMark) pages of \(header.pageSize)")
        }
        try compressor.finish { try emit($0) }
        let bodySize = UInt64(offset) + UInt64(pending.count) - UInt64(ArtefactHeader.encodedSize)
        var w = ByteWriter(capacity: snapshotTrailerSize)
        w.u64(highWaterMark)
        w.u64(databaseChecksum)
        w.u64(imageSize)
        w.u64(bodySize)
        try emit(w.bytes)
        try emit(withUnsafeBytes(of: hasher.digest().littleEndian) { Array($0) }, hashed: false)
        try flush()
        try file?.sync()
        try file?.close()
        file = nil
    }

    /// Gives up: closes and removes the partial file.
    public func abandon() {
        try? file?.close()
        file = nil
        LocalFS.remove(path)
    }

    private func emit(_ bytes: [UInt8], hashed: Bool = true) throws {
        if hashed { hasher.update(bytes) }
        pending += bytes
        if pending.count >= Self.flushSize { try flush() }
    }

    private func flush() throws {
        guard let file, !pending.isEmpty else { return }
        try file.write(pending, at: offset)
        offset += Int64(pending.count)
        pending.removeAll(keepingCapacity: true)
    }
}

/// Reads a snapshot file, streaming the image and verifying the checksum at the end.
public final class SnapshotReader {
    private enum Source {
        case file(LocalFile)
        case bytes([UInt8])
    }

    /// The artefact's name in messages (replica key or path).
    public let name: String
    /// The header, decoded and checked on init.
    public let header: ArtefactHeader
    private let source: Source
    private let size: Int64
    private static let chunkSize = 1 << 20

    /// Opens the snapshot file at `path`; `name` is used in messages.
    public convenience init(path: String, name: String) throws {
        let file = try LocalFile.openForReading(path)
        try self.init(source: .file(file), size: try file.size(), name: name)
    }

    /// Reads a snapshot held in memory.
    public convenience init(bytes: [UInt8], name: String) throws {
        try self.init(source: .bytes(bytes), size: Int64(bytes.count), name: name)
    }

    private init(source: Source, size: Int64, name: String) throws {
        self.source = source
        self.size = size
        self.name = name
        let head = try Self.read(source, count: ArtefactHeader.encodedSize, at: 0)
        self.header = try ArtefactHeader.decode(head[...], expecting: .snapshot, name: name)
        guard size >= Int64(ArtefactHeader.encodedSize + snapshotTrailerSize) else {
            throw StreamError(.corruptArtefact, "\(name): truncated: \(size) bytes, no room for the trailer")
        }
    }

    /// Streams the decompressed image to `sink` in chunks, then verifies the trailer and the
    /// file checksum; returns the high-water mark and the whole-database checksum recorded.
    @discardableResult
    public func read(into sink: ([UInt8]) throws -> Void) throws -> (highWaterMark: UInt64, databaseChecksum: UInt64) {
        // The trailer first (not yet trusted): it bounds the decompressed size.
        let trailerBytes = try Self.read(source, count: snapshotTrailerSize, at: size - Int64(snapshotTrailerSize))
        var trailer = ByteReader(trailerBytes[...], name: name)
        let hwm = try trailer.u64("high-water mark")
        let checksum = try trailer.u64("database checksum")
        let imageSize = try trailer.u64("image size")
        let bodySize = try trailer.u64("body size")
        let stored = try trailer.u64("file checksum")
        let bodyEnd = size - Int64(snapshotTrailerSize)
        guard bodySize == UInt64(bodyEnd - Int64(ArtefactHeader.encodedSize)) else {
            throw StreamError(.corruptArtefact, "\(name): trailer body size \(bodySize) does not match the file (damaged or truncated)")
        }
        let (expected, overflow) = hwm.multipliedReportingOverflow(by: UInt64(header.pageSize))
        guard !overflow, expected == imageSize, hwm >= 2 else {
            throw StreamError(.corruptArtefact, "\(name): image size \(imageSize) is not the high-water mark \(hwm) times the page size \(header.pageSize)")
        }
        // Then the body, streamed through the decompressor and the file hash.
        var hasher = XXH64()
        hasher.update(try Self.read(source, count: ArtefactHeader.encodedSize, at: 0))
        let decompressor = try StreamingDecompressor(codec: header.codec, name: name, limit: imageSize)
        var offset = Int64(ArtefactHeader.encodedSize)
        while offset < bodyEnd {
            let chunk = try Self.read(source, count: Int(min(Int64(Self.chunkSize), bodyEnd - offset)), at: offset)
            guard !chunk.isEmpty else {
                throw StreamError(.corruptArtefact, "\(name): truncated while reading the body")
            }
            hasher.update(chunk)
            try decompressor.decompress(chunk, into: sink)
            offset += Int64(chunk.count)
        }
        try decompressor.finish()
        hasher.update(trailerBytes.prefix(snapshotTrailerSize - 8))
        guard hasher.digest() == stored else {
            throw StreamError(.corruptArtefact, "\(name): file checksum mismatch (damaged or truncated)")
        }
        guard decompressor.outputCount == imageSize else {
            throw StreamError(.corruptArtefact, "\(name): image decompresses to \(decompressor.outputCount) bytes, the trailer says \(imageSize)")
        }
        return (hwm, checksum)
    }

    private static func read(_ source: Source, count: Int, at offset: Int64) throws -> [UInt8] {
        switch source {
        case .file(let file):
            return try file.read(count: count, at: offset)
        case .bytes(let bytes):
            let start = Int(min(Int64(bytes.count), max(0, offset)))
            return Array(bytes[start..<min(bytes.count, start + count)])
        }
    }
}
