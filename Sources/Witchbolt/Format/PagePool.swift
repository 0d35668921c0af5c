// Licensed under the Apache License, Version 2.0.
//
// Single-page buffers kept from one write transaction to the next (bbolt: db.pagePool, a
// sync.Pool of page-size byte slices). A random-insert transaction of 1,000 keys fills about
// 1,100 fresh 4 KiB buffers and frees them at commit; malloc returns that memory to the
// kernel and takes it back on the next commit, and the page faults and zeroing of those
// round trips cost more than the commit's own copying. Buffers come back only when no
// page-flush observer holds them, and at most `capacity` are kept.

struct PagePool {
    /// Buffers of exactly one page, not referenced elsewhere.
    private var buffers: [[UInt8]] = []
    /// The most buffers kept; the rest of a large commit's pages are freed.
    let capacity: Int
    let pageSize: Int

    /// A pool of at most `maxBytes` of pages of `pageSize` bytes.
    init(pageSize: Int, maxBytes: Int = 16 << 20) {
        self.pageSize = pageSize
        self.capacity = max(maxBytes / pageSize, 0)
    }

    /// The number of buffers kept.
    var count: Int { buffers.count }

    /// A one-page buffer with undefined contents, if one is kept.
    mutating func take() -> [UInt8]? { buffers.popLast() }

    /// Keeps the single-page buffers of `pages` for later transactions.
    mutating func recycle(_ pages: [PageBuffer]) {
        for page in pages where page.overflow == 0 && page.bytes.count == pageSize {
            guard buffers.count < capacity else { return }
            buffers.append(page.bytes)
        }
    }
}
