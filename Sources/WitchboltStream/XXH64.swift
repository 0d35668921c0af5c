// Licensed under the Apache License, Version 2.0.
//
// XXH64, the 64-bit xxHash of Yann Collet, written from the published specification
// (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md). Every artefact checksum
// (per record, per file, per page of the whole-database checksum) is an XXH64: it runs at
// memory speed, which matters because the page hash runs on every committed frame, and it
// detects bit flips and truncation far better than a CRC32. libzstd 1.5.4 on this machine
// does not export its internal `ZSTD_XXH64`, so the hash lives here, in one file, with the
// specification's test vectors in `ChecksumTests`.

/// A streaming XXH64 hasher: feed bytes with `update`, read the hash with `digest`.
public struct XXH64: Sendable {
    static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private let seed: UInt64
    private var v1: UInt64, v2: UInt64, v3: UInt64, v4: UInt64
    private var totalLength: UInt64 = 0
    /// Up to 31 bytes not yet folded into the four accumulators.
    private var buffer: [UInt8] = []

    /// Creates a hasher with `seed`.
    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ XXH64.prime1 &+ XXH64.prime2
        v2 = seed &+ XXH64.prime2
        v3 = seed
        v4 = seed &- XXH64.prime1
        buffer.reserveCapacity(32)
    }

    /// The hash of `bytes` with `seed`, in one call.
    public static func hash(_ bytes: some Collection<UInt8>, seed: UInt64 = 0) -> UInt64 {
        if let fast = bytes.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0), seed: seed) }) {
            return fast
        }
        return hash(Array(bytes), seed: seed)
    }

    /// The hash of the bytes in `raw` with `seed`, in one call.
    public static func hash(_ raw: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let count = raw.count
        var offset = 0
        var h: UInt64
        if count >= 32 {
            var a = seed &+ prime1 &+ prime2, b = seed &+ prime2, c = seed, d = seed &- prime1
            while offset + 32 <= count {
                a = round(a, load64(raw, offset))
                b = round(b, load64(raw, offset + 8))
                c = round(c, load64(raw, offset + 16))
                d = round(d, load64(raw, offset + 24))
                offset += 32
            }
            h = converge(a, b, c, d)
        } else {
            h = seed &+ prime5
        }
        h = h &+ UInt64(count)
        return finish(h, raw, from: offset)
    }

    /// Feeds bytes.
    public mutating func update(_ bytes: some Collection<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// Feeds the bytes in `raw`.
    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        totalLength &+= UInt64(raw.count)
        var offset = 0
        // First top up a partial stripe left from the previous call.
        if !buffer.isEmpty {
            let take = min(32 - buffer.count, raw.count)
            buffer.append(contentsOf: raw[0..<take])
            offset = take
            guard buffer.count == 32 else { return }
            buffer.withUnsafeBytes { consumeStripe($0, 0) }
            buffer.removeAll(keepingCapacity: true)
        }
        // Then whole stripes straight from the input.
        while offset + 32 <= raw.count {
            consumeStripe(raw, offset)
            offset += 32
        }
        buffer.append(contentsOf: raw[offset...])
    }

    /// The hash of everything fed so far (the hasher can keep going afterwards).
    public func digest() -> UInt64 {
        var h: UInt64
        if totalLength >= 32 {
            h = XXH64.converge(v1, v2, v3, v4)
        } else {
            h = seed &+ XXH64.prime5
        }
        h = h &+ totalLength
        return buffer.withUnsafeBytes { XXH64.finish(h, $0, from: 0) }
    }

    private mutating func consumeStripe(_ raw: UnsafeRawBufferPointer, _ offset: Int) {
        v1 = XXH64.round(v1, XXH64.load64(raw, offset))
        v2 = XXH64.round(v2, XXH64.load64(raw, offset + 8))
        v3 = XXH64.round(v3, XXH64.load64(raw, offset + 16))
        v4 = XXH64.round(v4, XXH64.load64(raw, offset + 24))
    }

    @inline(__always)
    static func load64(_ raw: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    static func load32(_ raw: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always)
    static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* prime2, 31) &* prime1
    }

    @inline(__always)
    static func merge(_ acc: UInt64, _ value: UInt64) -> UInt64 {
        (acc ^ round(0, value)) &* prime1 &+ prime4
    }

    static func converge(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) -> UInt64 {
        var h = rotl(a, 1) &+ rotl(b, 7) &+ rotl(c, 12) &+ rotl(d, 18)
        h = merge(h, a)
        h = merge(h, b)
        h = merge(h, c)
        h = merge(h, d)
        return h
    }

    /// Folds the tail (fewer than 32 bytes from `from`) and avalanches.
    static func finish(_ start: UInt64, _ raw: UnsafeRawBufferPointer, from: Int) -> UInt64 {
        var h = start
        var offset = from
        let count = raw.count
        while offset + 8 <= count {
            h ^= round(0, load64(raw, offset))
            h = rotl(h, 27) &* prime1 &+ prime4
            offset += 8
        }
        if offset + 4 <= count {
            h ^= UInt64(load32(raw, offset)) &* prime1
            h = rotl(h, 23) &* prime2 &+ prime3
            offset += 4
        }
        while offset < count {
            h ^= UInt64(raw[offset]) &* prime5
            h = rotl(h, 11) &* prime1
            offset += 1
        }
        h ^= h >> 33
        h = h &* prime2
        h ^= h >> 29
        h = h &* prime3
        h ^= h >> 32
        return h
    }
}
