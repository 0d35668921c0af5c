// Licensed under the Apache License, Version 2.0. Port of bbolt's internal/common/page.go.
//
// A read-only view of one page in memory (the map, or a buffer a transaction owns): the page
// header and its branch and leaf elements. This is where bytes become pages. A `PageRef` is
// valid only while the memory it points into is: inside the transaction that produced it.

#if canImport(Glibc)
import Glibc
#endif

/// A view of a page header and its elements.
///
/// Element accessors never read outside `extent` bytes from `base`: an element whose data
/// would lie outside reads as empty, so a corrupt page gives wrong bytes (which `check()`
/// reports), never a read outside the page.
struct PageRef {
    let base: UnsafeRawPointer
    /// The number of readable bytes from `base`: `(overflow + 1) * pageSize`, or an inline page's length.
    let extent: Int

    @inline(__always) init(_ base: UnsafeRawPointer, extent: Int) {
        self.base = base
        self.extent = extent
    }

    @inline(__always) var id: PageID { base.loadUnaligned(as: UInt64.self) }
    @inline(__always) var flags: UInt16 { base.loadUnaligned(fromByteOffset: 8, as: UInt16.self) }
    /// The element count as stored.
    @inline(__always) var storedCount: Int { Int(base.loadUnaligned(fromByteOffset: 10, as: UInt16.self)) }
    /// The element count, clamped to the elements whose headers fit in the page.
    @inline(__always) var count: Int { min(storedCount, (extent - PageLayout.headerSize) / PageLayout.leafElementSize) }
    @inline(__always) var overflow: UInt32 { base.loadUnaligned(fromByteOffset: 12, as: UInt32.self) }
    @inline(__always) var isLeaf: Bool { flags & PageLayout.leafFlag != 0 }
    @inline(__always) var isBranch: Bool { flags & PageLayout.branchFlag != 0 }

    /// A name for the page's kind, as bbolt's `Typ()`.
    var kindName: String {
        switch flags {
        case PageLayout.branchFlag: "branch"
        case PageLayout.leafFlag: "leaf"
        case PageLayout.metaFlag: "meta"
        case PageLayout.freelistFlag: "freelist"
        default: "unknown<\(String(flags, radix: 16))>"
        }
    }

    // MARK: Leaf elements

    @inline(__always) func leafFlags(_ i: Int) -> UInt32 {
        base.loadUnaligned(fromByteOffset: PageLayout.headerSize + i * PageLayout.leafElementSize, as: UInt32.self)
    }

    @inline(__always) func leafKey(_ i: Int) -> UnsafeRawBufferPointer {
        let off = PageLayout.headerSize + i * PageLayout.leafElementSize
        let e = base + off
        let pos = Int(e.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let ksize = Int(e.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard off + pos + ksize <= extent else { return UnsafeRawBufferPointer(start: base, count: 0) }
        return UnsafeRawBufferPointer(start: e + pos, count: ksize)
    }

    @inline(__always) func leafValue(_ i: Int) -> UnsafeRawBufferPointer {
        let off = PageLayout.headerSize + i * PageLayout.leafElementSize
        let e = base + off
        let pos = Int(e.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let ksize = Int(e.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let vsize = Int(e.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard off + pos + ksize + vsize <= extent else { return UnsafeRawBufferPointer(start: base, count: 0) }
        return UnsafeRawBufferPointer(start: e + pos + ksize, count: vsize)
    }

    /// Leaf element `i`: flags, key and value from one read of its header (both views empty
    /// when its data would lie outside the page).
    @inline(__always) func leafElement(_ i: Int) -> (flags: UInt32, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let off = PageLayout.headerSize + i * PageLayout.leafElementSize
        let e = base + off
        let flags = e.loadUnaligned(as: UInt32.self)
        let pos = Int(e.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let ksize = Int(e.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let vsize = Int(e.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard off + pos + ksize + vsize <= extent else {
            let empty = UnsafeRawBufferPointer(start: base, count: 0)
            return (flags, off + pos + ksize <= extent ? UnsafeRawBufferPointer(start: e + pos, count: ksize) : empty, empty)
        }
        return (flags, UnsafeRawBufferPointer(start: e + pos, count: ksize), UnsafeRawBufferPointer(start: e + pos + ksize, count: vsize))
    }

    // MARK: Branch elements

    @inline(__always) func branchKey(_ i: Int) -> UnsafeRawBufferPointer {
        let off = PageLayout.headerSize + i * PageLayout.branchElementSize
        let e = base + off
        let pos = Int(e.loadUnaligned(as: UInt32.self))
        let ksize = Int(e.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        guard off + pos + ksize <= extent else { return UnsafeRawBufferPointer(start: base, count: 0) }
        return UnsafeRawBufferPointer(start: e + pos, count: ksize)
    }

    @inline(__always) func branchPageID(_ i: Int) -> PageID {
        base.loadUnaligned(fromByteOffset: PageLayout.headerSize + i * PageLayout.branchElementSize + 8, as: UInt64.self)
    }

    /// Whether every element of this branch or leaf page lies inside `extent` bytes.
    /// A hostile file must give an error, never a read outside the page.
    func elementsFit() -> Bool {
        let n = storedCount
        let elementSize = isLeaf ? PageLayout.leafElementSize : PageLayout.branchElementSize
        guard isLeaf || isBranch, PageLayout.headerSize + n * elementSize <= extent else { return false }
        for i in 0..<n {
            let off = PageLayout.headerSize + i * elementSize
            let e = base + off
            if isLeaf {
                let pos = Int(e.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                let ksize = Int(e.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                let vsize = Int(e.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                if off + pos + ksize + vsize > extent { return false }
            } else {
                let pos = Int(e.loadUnaligned(as: UInt32.self))
                let ksize = Int(e.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                if off + pos + ksize > extent { return false }
            }
        }
        return true
    }

    // MARK: Freelist

    /// The page ids stored in a freelist page (bbolt: FreelistPageIds), with the count-overflow
    /// form; nil when they would not fit in the page.
    func freelistIDs() -> [PageID]? {
        var n = storedCount
        var start = PageLayout.headerSize
        if n == 0xFFFF {
            let stored = base.loadUnaligned(fromByteOffset: PageLayout.headerSize, as: UInt64.self)
            guard stored < UInt64(extent) else { return nil }
            n = Int(stored)
            start += 8
        }
        guard start + n * 8 <= extent else { return nil }
        var ids = [PageID](repeating: 0, count: n)
        ids.withUnsafeMutableBytes { target in
            target.copyMemory(from: UnsafeRawBufferPointer(start: base + start, count: n * 8))
        }
        return ids
    }
}

/// Byte-wise unsigned comparison, as Go's bytes.Compare: negative, zero or positive.
///
/// Compares eight bytes at a time as big-endian integers, inline: keys are mostly short, and
/// a call into `memcmp` for every probe of a binary search cost a quarter of random reads.
@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let pa = a.baseAddress!, pb = b.baseAddress!
        var i = 0
        while i + 8 <= n {
            let x = pa.loadUnaligned(fromByteOffset: i, as: UInt64.self).bigEndian
            let y = pb.loadUnaligned(fromByteOffset: i, as: UInt64.self).bigEndian
            if x != y { return x < y ? -1 : 1 }
            i += 8
        }
        while i < n {
            let x = pa.load(fromByteOffset: i, as: UInt8.self), y = pb.load(fromByteOffset: i, as: UInt8.self)
            if x != y { return x < y ? -1 : 1 }
            i += 1
        }
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

@inline(__always)
func compareBytes(_ a: ArraySlice<UInt8>, _ b: UnsafeRawBufferPointer) -> Int {
    a.withUnsafeBytes { compareBytes($0, b) }
}

@inline(__always)
func compareBytes(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Int {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in compareBytes(x, y) } }
}

@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Int {
    b.withUnsafeBytes { compareBytes(a, $0) }
}
