// Licensed under the Apache License, Version 2.0.
//
// A page (with its overflow) being built by a write transaction: zeroed bytes a node, the
// freelist or the meta page is written into, then pwritten, then handed unchanged to the
// page-flush observers as a frame (the buffer is a `[UInt8]`, so handing it over copies
// nothing). bbolt: tx.allocate / db.allocate and the node and freelist `Write` functions.

struct PageBuffer {
    var id: PageID
    var overflow: UInt32
    var bytes: [UInt8]

    /// A zeroed buffer of `count` pages starting at `id`.
    init(id: PageID, count: Int, pageSize: Int) {
        self.id = id
        self.overflow = UInt32(count - 1)
        self.bytes = [UInt8](repeating: 0, count: count * pageSize)
        self.bytes.withUnsafeMutableBytes { p in
            p.storeBytes(of: id, as: UInt64.self)
            p.storeBytes(of: UInt32(count - 1), toByteOffset: 12, as: UInt32.self)
        }
    }

    /// A buffer of `count` pages filled by `fill`, which returns how many leading bytes it
    /// wrote; only the rest is zeroed (the bytes are written once, not zeroed first). A
    /// single page reuses `recycled` (a pooled one-page buffer) when given.
    init(id: PageID, count: Int, pageSize: Int, recycled: [UInt8]? = nil, fill: (UnsafeMutableRawPointer) -> Int) {
        self.id = id
        self.overflow = UInt32(count - 1)
        let total = count * pageSize
        if var reused = recycled, reused.count == total {
            reused.withUnsafeMutableBytes { Self.fill($0.baseAddress!, id: id, count: count, total: total, fill) }
            self.bytes = reused
            return
        }
        self.bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            Self.fill(UnsafeMutableRawPointer(buffer.baseAddress!), id: id, count: count, total: total, fill)
            initialized = total
        }
    }

    /// Writes the header, lets `fill` write the page, and zeroes what it left.
    @inline(__always)
    private static func fill(_ p: UnsafeMutableRawPointer, id: PageID, count: Int, total: Int, _ fill: (UnsafeMutableRawPointer) -> Int) {
        // The header's first 16 bytes are always ours; zero them before the writer fills in fields.
        p.initializeMemory(as: UInt8.self, repeating: 0, count: PageLayout.headerSize)
        p.storeBytes(of: id, as: UInt64.self)
        p.storeBytes(of: UInt32(count - 1), toByteOffset: 12, as: UInt32.self)
        let written = max(PageLayout.headerSize, min(fill(p), total))
        (p + written).initializeMemory(as: UInt8.self, repeating: 0, count: total - written)
    }

    /// Writes a freelist page holding `ids` (sorted), with bbolt's count-overflow form.
    mutating func writeFreelist(_ ids: [PageID]) {
        bytes.withUnsafeMutableBytes { p in
            p.storeBytes(of: PageLayout.freelistFlag, toByteOffset: 8, as: UInt16.self)
            var start = PageLayout.headerSize
            if ids.count < 0xFFFF {
                p.storeBytes(of: UInt16(ids.count), toByteOffset: 10, as: UInt16.self)
            } else {
                p.storeBytes(of: UInt16(0xFFFF), toByteOffset: 10, as: UInt16.self)
                p.storeBytes(of: UInt64(ids.count), toByteOffset: start, as: UInt64.self)
                start += 8
            }
            ids.withUnsafeBytes { source in
                if source.count > 0 {
                    (p.baseAddress! + start).copyMemory(from: source.baseAddress!, byteCount: source.count)
                }
            }
        }
    }

    /// The meta page of `meta` (page id `txid % 2`), in `recycled` when given (a pooled
    /// one-page buffer); only the bytes past the meta are zeroed.
    init(meta: Meta, pageSize: Int, recycled: [UInt8]? = nil) {
        self.init(id: meta.txid % 2, count: 1, pageSize: pageSize, recycled: recycled) { page in
            meta.write(toPage: page)
            return PageLayout.headerSize + PageLayout.metaSize
        }
    }

    /// The bytes a freelist of `count` ids needs (bbolt: EstimatedWritePageSize).
    static func freelistSize(count: Int) -> Int {
        PageLayout.headerSize + 8 * (count + (count >= 0xFFFF ? 1 : 0))
    }
}
