// Licensed under the Apache License, Version 2.0.
//
// Compression of artefacts: `none` or zstd at a level, through libzstd's streaming API so
// that a snapshot of any size goes through a fixed amount of memory (one input chunk, one
// output buffer, the codec's window). This is the only file that imports CZstd; all pointer
// handling stays here, and callers only see `[UInt8]` chunks.

import CZstd
#if canImport(Glibc)
import Glibc
#endif

/// How an artefact's body is compressed; one setting for the whole controller.
public enum CompressionCodec: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Stored as is.
    case none
    /// Zstandard at `level` (1...22; negative levels are zstd's fast modes).
    case zstd(level: Int)

    /// The default: zstd level 3, zstd's own default (fast, about 3x on B+tree pages).
    public static let `default`: CompressionCodec = .zstd(level: 3)

    /// The codec's identifier in artefact headers (docs/FORMAT.md).
    public var formatID: UInt8 {
        switch self {
        case .none: 0
        case .zstd: 1
        }
    }

    /// The level stored in artefact headers (0 for `none`).
    public var level: Int {
        switch self {
        case .none: 0
        case .zstd(let level): level
        }
    }

    /// The codec of a header's identifier and level, or nil for an unknown identifier.
    public init?(formatID: UInt8, level: Int) {
        switch formatID {
        case 0: self = .none
        case 1: self = .zstd(level: level)
        default: return nil
        }
    }

    /// Parses `none`, `zstd` or `zstd:LEVEL` (as in configuration files and the CLI).
    public init?(string: String) {
        if string == "none" { self = .none; return }
        if string == "zstd" { self = .default; return }
        guard string.hasPrefix("zstd:"), let level = Int(string.dropFirst(5)),
              (-7...22).contains(level) else { return nil }
        self = .zstd(level: level)
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .zstd(let level): "zstd:\(level)"
        }
    }
}

/// Compresses a stream of chunks with one codec; output arrives at `sink` in chunks.
///
/// Memory is bounded by the codec's window and one output buffer, whatever the input size.
public final class StreamingCompressor {
    private let codec: CompressionCodec
    private var context: OpaquePointer?
    private var output: [UInt8]

    /// Creates a compressor for `codec`.
    public init(codec: CompressionCodec) throws {
        self.codec = codec
        self.output = []
        if case .zstd(let level) = codec {
            guard let context = ZSTD_createCCtx() else {
                throw StreamError(.io, "zstd: cannot allocate a compression context")
            }
            self.context = context
            try Self.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(clamping: level)), "set level \(level)")
            try Self.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0), "set checksum flag")
            output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        }
    }

    deinit {
        if let context { ZSTD_freeCCtx(context) }
    }

    /// Compresses `bytes`, handing whatever output is ready to `sink`.
    public func compress(_ bytes: [UInt8], into sink: ([UInt8]) throws -> Void) throws {
        guard !bytes.isEmpty else { return }
        guard context != nil else { return try sink(bytes) }
        try bytes.withUnsafeBytes { try run($0, ZSTD_e_continue, sink) }
    }

    /// Ends the stream, handing the last output to `sink`. The compressor cannot be reused.
    public func finish(into sink: ([UInt8]) throws -> Void) throws {
        guard context != nil else { return }
        try run(UnsafeRawBufferPointer(start: nil, count: 0), ZSTD_e_end, sink)
        ZSTD_freeCCtx(context)
        context = nil
    }

    private func run(_ raw: UnsafeRawBufferPointer, _ mode: ZSTD_EndDirective, _ sink: ([UInt8]) throws -> Void) throws {
        var input = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
        let capacity = output.count
        while true {
            var produced = 0
            let remaining: Int = try output.withUnsafeMutableBytes { out in
                var buffer = ZSTD_outBuffer(dst: out.baseAddress, size: capacity, pos: 0)
                let rc = ZSTD_compressStream2(context, &buffer, &input, mode)
                try Self.check(rc, "compress")
                produced = buffer.pos
                return rc
            }
            if produced > 0 { try sink(Array(output[0..<produced])) }
            let inputDone = input.pos == input.size
            if mode == ZSTD_e_end ? remaining == 0 : (inputDone && produced < capacity) { return }
        }
    }

    static func check(_ rc: Int, _ what: String) throws {
        if ZSTD_isError(rc) != 0 {
            throw StreamError(.io, "zstd \(what): \(String(cString: ZSTD_getErrorName(rc)))")
        }
    }
}

/// Decompresses a stream of chunks with one codec, refusing more than `limit` bytes of output.
///
/// Errors name the artefact (`name`) and are `.corruptArtefact`: a damaged or hostile input
/// ends in a clear error, never in a crash or an unbounded allocation.
public final class StreamingDecompressor {
    private let name: String
    private let limit: UInt64
    private var context: OpaquePointer?
    private var output: [UInt8]
    private var produced: UInt64 = 0
    private var frameComplete = true

    /// Creates a decompressor for `codec` of the artefact `name`.
    public init(codec: CompressionCodec, name: String, limit: UInt64 = .max) throws {
        self.name = name
        self.limit = limit
        self.output = []
        if case .zstd = codec {
            guard let context = ZSTD_createDCtx() else {
                throw StreamError(.io, "zstd: cannot allocate a decompression context")
            }
            self.context = context
            // A window past 128 MiB is not something our compressor writes: refuse it.
            _ = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 27)
            output = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        }
    }

    deinit {
        if let context { ZSTD_freeDCtx(context) }
    }

    /// The number of bytes produced so far.
    public var outputCount: UInt64 { produced }

    /// Decompresses `bytes`, handing output to `sink` as it is ready.
    public func decompress(_ bytes: [UInt8], into sink: ([UInt8]) throws -> Void) throws {
        guard !bytes.isEmpty else { return }
        guard let context else {
            try account(bytes.count)
            return try sink(bytes)
        }
        frameComplete = false
        try bytes.withUnsafeBytes { raw in
            var input = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
            let capacity = output.count
            while true {
                var count = 0
                let before = input.pos
                let rc: Int = output.withUnsafeMutableBytes { out in
                    var buffer = ZSTD_outBuffer(dst: out.baseAddress, size: capacity, pos: 0)
                    let rc = ZSTD_decompressStream(context, &buffer, &input)
                    count = buffer.pos
                    return rc
                }
                if ZSTD_isError(rc) != 0 {
                    throw StreamError(.corruptArtefact, "\(name): zstd data is damaged (\(String(cString: ZSTD_getErrorName(rc))))")
                }
                if count > 0 {
                    try account(count)
                    try sink(Array(output[0..<count]))
                }
                // rc == 0: a frame just ended. A call that consumed and produced nothing
                // (flushing after a frame ended exactly at a full output buffer) says nothing
                // about frames: it must not undo that.
                if rc == 0 {
                    frameComplete = true
                } else if input.pos > before || count > 0 {
                    frameComplete = false
                }
                if input.pos == input.size && count < capacity { return }
            }
        }
    }

    /// Checks that the stream ended at the end of a zstd frame (not truncated).
    public func finish() throws {
        if !frameComplete {
            throw StreamError(.corruptArtefact, "\(name): compressed body ends in the middle of a zstd frame")
        }
    }

    private func account(_ count: Int) throws {
        produced += UInt64(count)
        if produced > limit {
            throw StreamError(.corruptArtefact, "\(name): decompresses to more than the \(limit) bytes its header announces")
        }
    }
}

/// One-shot helpers for bodies that fit in memory (segments).
public enum Compression {
    /// Compresses `bytes` with `codec`.
    public static func compress(_ bytes: [UInt8], codec: CompressionCodec) throws -> [UInt8] {
        var out: [UInt8] = []
        try BodyCodec(codec: codec).compress(bytes[...], appendingTo: &out)
        return out
    }

    /// Decompresses `bytes`, which must expand to exactly `expectedCount` bytes.
    public static func decompress(_ bytes: [UInt8], codec: CompressionCodec, expectedCount: UInt64, name: String) throws -> [UInt8] {
        var out: [UInt8] = []
        try BodyCodec(codec: codec).decompress(bytes[...], expectedCount: expectedCount, name: name, into: &out)
        return out
    }
}

/// Compresses and decompresses whole in-memory bodies (segments) in one call each, keeping
/// its zstd contexts between calls: a context is megabytes of tables, and the stream's writer
/// seals a segment many times a second under heavy writes. Output goes straight into the
/// caller's buffer, without intermediate chunks.
final class BodyCodec {
    let codec: CompressionCodec
    private var compressionContext: OpaquePointer?
    private var decompressionContext: OpaquePointer?
    /// The base-2 logarithm of the largest window a segment body is compressed with: 16 MiB,
    /// the default segment size limit. Decoders need that much memory (zstd's default limit,
    /// and ours, is 128 MiB); on a segment of random inserts it compressed 2.4 times smaller
    /// and 1.8 times faster than level 3's own 2 MiB (docs/PERFORMANCE.md).
    static let segmentWindowLog: Int32 = 24
    /// The largest body `decompress(_:expectedCount:name:into:)` decodes in one call, into a
    /// buffer of the announced size (four default segments).
    static let oneShotLimit: UInt64 = 64 << 20
    /// The window `decompresses(_:to:name:)` decompresses through.
    private var window: [UInt8] = []

    /// A codec for `codec`; contexts are created on first use.
    init(codec: CompressionCodec) {
        self.codec = codec
    }

    deinit {
        if let compressionContext { ZSTD_freeCCtx(compressionContext) }
        if let decompressionContext { ZSTD_freeDCtx(decompressionContext) }
    }

    /// The decompression context, created on first use, reset for a new body.
    private func decompressionContextReady() throws -> OpaquePointer {
        if decompressionContext == nil {
            guard let context = ZSTD_createDCtx() else {
                throw StreamError(.io, "zstd: cannot allocate a decompression context")
            }
            // A window past 128 MiB is not something our compressor writes: refuse it.
            _ = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 27)
            decompressionContext = context
        }
        _ = ZSTD_DCtx_reset(decompressionContext, ZSTD_reset_session_only)
        return decompressionContext!
    }

    /// Appends the compressed form of `bytes` to `out` (one zstd frame).
    func compress(_ bytes: ArraySlice<UInt8>, appendingTo out: inout [UInt8]) throws {
        guard case .zstd(let level) = codec else {
            out.append(contentsOf: bytes)
            return
        }
        if compressionContext == nil {
            guard let context = ZSTD_createCCtx() else {
                throw StreamError(.io, "zstd: cannot allocate a compression context")
            }
            compressionContext = context
            try StreamingCompressor.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(clamping: level)), "set level \(level)")
            try StreamingCompressor.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0), "set checksum flag")
            // A segment holds consecutive commits that rewrite the same pages; a window over
            // the whole body lets each page match its earlier version (zstd shrinks the
            // window to a smaller body). Levels 20 and up already use a larger one.
            if level < 20 {
                try StreamingCompressor.check(ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, Self.segmentWindowLog), "set window")
            }
        }
        // Room for the worst case, then cut to what zstd wrote.
        let start = out.count
        let bound = ZSTD_compressBound(bytes.count)
        out.append(contentsOf: repeatElement(0, count: bound))
        let written = try bytes.withUnsafeBytes { source in
            try out.withUnsafeMutableBytes { target in
                let rc = ZSTD_compress2(compressionContext, target.baseAddress! + start, bound, source.baseAddress, source.count)
                try StreamingCompressor.check(rc, "compress")
                return rc
            }
        }
        out.removeLast(bound - written)
    }

    /// How a pass over a compressed body ended.
    private enum PassEnd {
        /// The body ended at the end of a zstd frame.
        case complete
        /// The body ended in the middle of a frame (truncated).
        case truncated
        /// The caller stopped the pass.
        case stopped
    }

    /// Decompresses `bytes` through the window, handing each window's output to `body` until
    /// it returns false. Damaged data throws (`.corruptArtefact` naming `name`).
    private func pass(_ bytes: ArraySlice<UInt8>, name: String, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws -> PassEnd {
        if window.isEmpty { window = [UInt8](repeating: 0, count: 1 << 18) }
        let context = try decompressionContextReady()
        var frameComplete = false
        return try bytes.withUnsafeBytes { source in
            try window.withUnsafeMutableBytes { target in
                var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
                while true {
                    let before = input.pos
                    var buffer = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                    let rc = ZSTD_decompressStream(context, &buffer, &input)
                    if ZSTD_isError(rc) != 0 {
                        throw StreamError(.corruptArtefact, "\(name): zstd data is damaged (\(String(cString: ZSTD_getErrorName(rc))))")
                    }
                    if buffer.pos > 0, try !body(UnsafeRawBufferPointer(rebasing: target[0..<buffer.pos])) { return .stopped }
                    // rc == 0: a frame just ended; a call that moved nothing says nothing about frames.
                    if rc == 0 {
                        frameComplete = true
                    } else if input.pos > before || buffer.pos > 0 {
                        frameComplete = false
                    }
                    if input.pos == input.size && buffer.pos < target.count {
                        return frameComplete ? .complete : .truncated
                    }
                }
            }
        }
    }

    /// Whether `bytes` decompresses to exactly `expected`, checked a window at a time: the
    /// output goes through one small buffer that stays in cache, never into a body-sized one.
    /// Damaged data throws (`.corruptArtefact` naming `name`); different content returns false.
    func decompresses(_ bytes: ArraySlice<UInt8>, to expected: ArraySlice<UInt8>, name: String) throws -> Bool {
        guard codec != .none else { return sameBytes(bytes, expected) }
        var produced = 0
        let end = try pass(bytes, name: name) { chunk in
            // Each window must match the expected bytes at the same offset.
            guard produced + chunk.count <= expected.count,
                  expected.withUnsafeBytes({ memcmp($0.baseAddress! + produced, chunk.baseAddress!, chunk.count) == 0 })
            else { return false }
            produced += chunk.count
            return true
        }
        return end == .complete && produced == expected.count
    }

    /// Replaces the contents of `out` with the decompressed `bytes`, which must come to exactly
    /// `expectedCount` bytes. The buffer grows with what the data really produces, never to
    /// what a hostile header announces. Errors are `.corruptArtefact` naming `name`.
    func decompress(_ bytes: ArraySlice<UInt8>, expectedCount: UInt64, name: String, into out: inout [UInt8]) throws {
        out.removeAll(keepingCapacity: true)
        guard codec != .none else {
            guard UInt64(bytes.count) == expectedCount else {
                throw StreamError(.corruptArtefact, "\(name): body holds \(bytes.count) bytes, its trailer says \(expectedCount)")
            }
            out.append(contentsOf: bytes)
            return
        }
        // A body of a usual size decompresses in one call straight into a buffer of the size
        // the trailer announced: zstd then needs no window of its own (16 MiB for a segment),
        // and pages of the buffer that a hostile announcement leaves unwritten are never
        // touched. Anything that does not come out exactly right (damage, a wrong size, a
        // larger body) takes the windowed pass below, which names what is wrong.
        if expectedCount > 0 && expectedCount <= Self.oneShotLimit {
            let context = try decompressionContextReady()
            let count = Int(expectedCount)
            var exact = false
            let decoded = bytes.withUnsafeBytes { source in
                [UInt8](unsafeUninitializedCapacity: count) { target, initialized in
                    let rc = ZSTD_decompressDCtx(context, target.baseAddress, count, source.baseAddress, source.count)
                    exact = ZSTD_isError(rc) == 0 && rc == count
                    initialized = exact ? count : 0
                }
            }
            if exact {
                out = decoded
                return
            }
        }
        out.reserveCapacity(Int(min(expectedCount, 16 << 20)))
        var tooLarge = false
        let end = try pass(bytes, name: name) { [expectedCount] chunk in
            guard UInt64(out.count + chunk.count) <= expectedCount else {
                tooLarge = true
                return false
            }
            out.append(contentsOf: chunk)
            return true
        }
        if tooLarge {
            throw StreamError(.corruptArtefact, "\(name): decompresses to more than the \(expectedCount) bytes its trailer announces")
        }
        guard end == .complete else {
            throw StreamError(.corruptArtefact, "\(name): compressed body ends in the middle of a zstd frame")
        }
        guard UInt64(out.count) == expectedCount else {
            throw StreamError(.corruptArtefact, "\(name): body decompresses to \(out.count) bytes, its trailer says \(expectedCount)")
        }
    }
}
