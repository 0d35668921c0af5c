// Licensed under the Apache License, Version 2.0.
//
// The bytes a write transaction's nodes point at that are not in the memory map: copies of
// the keys and values its caller puts and of the bucket headers and inline buckets it builds.
// A bump allocator over large chunks, freed all at once when the transaction ends. Nothing
// is freed earlier, so every view it hands out stays valid for the whole transaction; that
// is what lets an `Inode` be plain pointers, with no reference counting (bbolt keeps Go
// slices of the caller's memory instead and lets the garbage collector keep them alive).

final class ByteArena {
    /// The size of an ordinary chunk; larger copies get a chunk of their own.
    static let chunkSize = 256 << 10

    /// The first chunk, apart from the rest: a small transaction then allocates no array.
    private var firstChunk: UnsafeMutableRawPointer?
    private var chunks: [UnsafeMutableRawPointer] = []
    private var next: UnsafeMutableRawPointer?
    private var remaining = 0
    /// Bytes handed out so far.
    private(set) var bytesUsed = 0

    init() {}

    deinit {
        firstChunk?.deallocate()
        for chunk in chunks { chunk.deallocate() }
    }

    /// A copy of `bytes` that lives as long as the arena; an empty view for empty input.
    @inline(__always)
    func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let n = bytes.count
        guard n > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let p = allocate(n)
        p.copyMemory(from: bytes.baseAddress!, byteCount: n)
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    /// A copy of `bytes` that lives as long as the arena.
    @inline(__always)
    func copy(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        bytes.withUnsafeBytes { copy($0) }
    }

    /// The 16 bytes of `header` as a bucket's value, living as long as the arena.
    func copy(_ header: BucketHeader) -> UnsafeRawBufferPointer {
        let p = allocate(PageLayout.bucketHeaderSize)
        header.write(to: p)
        return UnsafeRawBufferPointer(start: p, count: PageLayout.bucketHeaderSize)
    }

    /// `count` uninitialised bytes that live as long as the arena.
    @inline(__always)
    func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        bytesUsed += count
        if count <= remaining {
            let p = next!
            next = p + count
            remaining -= count
            return p
        }
        return allocateSlow(count)
    }

    private func allocateSlow(_ count: Int) -> UnsafeMutableRawPointer {
        // A large copy gets a chunk of its own, so the current chunk's tail is not wasted.
        if count > Self.chunkSize / 4 {
            let p = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
            chunks.append(p)
            return p
        }
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        if firstChunk == nil { firstChunk = chunk } else { chunks.append(chunk) }
        next = chunk + count
        remaining = Self.chunkSize - count
        return chunk
    }
}
