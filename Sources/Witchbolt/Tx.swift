// Licensed under the Apache License, Version 2.0. Port of bbolt's tx.go (lifecycle and access).
//
// A transaction sees the database as of the meta page it copied when it began (MVCC): pages
// reachable from that meta are never reused while the transaction is open. There is one
// writer at a time and any number of readers. A transaction lives inside the closure that
// received it (`view`, `update`) or between `begin(writable:)` and `commit()`/`rollback()`.

/// A read-only or read-write transaction.
///
/// - Important: a `Tx`, and the buckets and cursors it hands out, are valid only until the
///   transaction ends, and only on the thread that uses it.
public final class Tx {
    /// Counters of the work a transaction did.
    public struct Stats: Sendable, Equatable {
        /// Pages allocated.
        public var pageAllocations = 0
        /// Nodes materialised from pages.
        public var nodeCount = 0
        /// Nodes rebalanced.
        public var rebalanceCount = 0
        /// Node splits.
        public var splitCount = 0
        /// Nodes spilled (written to pages).
        public var spillCount = 0
        /// Pages written to the file.
        public var writeCount = 0
    }

    // @exclusivity(unchecked): a transaction is used by one thread at a time (see the class
    // comment), and no access to one of these fields overlaps another; the dynamic checks
    // showed in the profile of every commit.
    let database: DB
    @exclusivity(unchecked) var meta: Meta
    /// The high-water mark when the transaction began: every page below it is readable.
    let readableLimit: PageID
    let map: MemoryMap
    /// The transaction's page size in bytes.
    public let pageSize: Int
    /// Whether the transaction can write.
    public let isWritable: Bool
    var isOpen = true
    /// True inside `view`/`update`/`batch`, where commit and rollback are the closure's business.
    var isManaged = false
    var root: Bucket!
    @exclusivity(unchecked) var dirty: [PageBuffer] = []
    /// Free pages a small commit reserved as one run, not yet used (`Tx+Reservation.swift`).
    @exclusivity(unchecked) var reservation: Range<PageID> = 0..<0
    /// Pages a small commit may still take at the end of the file as one run (instead).
    @exclusivity(unchecked) var reservedAtEnd = 0
    var commitHandlers: [() -> Void] = []
    /// The copies of keys and values this transaction's nodes point at (write transactions).
    let arena = ByteArena()
    /// Counters of this transaction's work.
    @exclusivity(unchecked) public internal(set) var stats = Stats()

    init(db: DB, meta: Meta, map: MemoryMap, writable: Bool) {
        self.database = db
        self.meta = meta
        self.readableLimit = meta.pgid
        self.map = map
        self.pageSize = Int(meta.pageSize)
        self.isWritable = writable
        if writable { self.meta.txid += 1 }
        self.root = Bucket(tx: self, header: meta.root)
    }

    /// The transaction id: for a writer, the id its commit will have.
    public var id: UInt64 { meta.txid }
    /// The database this transaction belongs to.
    public var db: DB { database }
    /// The number of pages in use (the meta page's high-water mark).
    public var highWaterMark: UInt64 { meta.pgid }
    /// The size in bytes of the database as this transaction sees it.
    public var size: Int64 { Int64(meta.pgid) * Int64(pageSize) }
    /// The root bucket: it holds only buckets (and a sequence).
    public var rootBucket: Bucket { root }

    // MARK: Buckets

    /// The top-level bucket named `name`, or nil.
    public func bucket(_ name: [UInt8]) throws -> Bucket? { try root.bucket(name) }
    /// Creates a top-level bucket. See ``Bucket/createBucket(_:)``.
    @discardableResult
    public func createBucket(_ name: [UInt8]) throws -> Bucket { try root.createBucket(name) }
    /// Creates a top-level bucket, or returns the existing one.
    @discardableResult
    public func createBucketIfNotExists(_ name: [UInt8]) throws -> Bucket { try root.createBucketIfNotExists(name) }
    /// Deletes a top-level bucket and everything in it.
    public func deleteBucket(_ name: [UInt8]) throws { try root.deleteBucket(name) }
    /// Moves bucket `name` from `source` to `target` (nil: the root).
    public func moveBucket(_ name: [UInt8], from source: Bucket?, to target: Bucket?) throws {
        try (source ?? root).moveBucket(name, to: target ?? root)
    }
    /// Calls `body` for every top-level bucket, in name order.
    public func forEach(_ body: ([UInt8], Bucket) throws -> Void) throws {
        var names: [[UInt8]] = []
        try root.forEachBucket { names.append($0) }
        for name in names {
            if let b = try root.bucket(name) { try body(name, b) }
        }
    }
    /// A cursor over the top-level bucket names (values are nil).
    public func cursor() -> Cursor { root.cursor() }

    /// Registers `body` to run after the transaction commits successfully.
    public func onCommit(_ body: @escaping () -> Void) { commitHandlers.append(body) }

    // MARK: Pages

    /// The page `id` as this transaction sees it, checked against the file's bounds.
    @inline(__always)
    func page(_ id: PageID) throws -> PageRef {
        guard id < readableLimit else {
            throw WitchboltError(.corrupted, "page \(id) is past the high-water mark \(readableLimit)")
        }
        let base = map.base + Int(id) * pageSize
        let header = PageRef(base, extent: pageSize)
        guard header.id == id else {
            throw WitchboltError(.corrupted, "page \(id): its header says page \(header.id)")
        }
        let overflow = PageID(header.overflow)
        guard overflow < readableLimit - id else {
            throw WitchboltError(.corrupted, "page \(id): its \(overflow) overflow pages run past the high-water mark \(readableLimit)")
        }
        return PageRef(base, extent: Int(overflow + 1) * pageSize)
    }

    /// Frees page `id` and its overflow in this transaction.
    func freePage(_ id: PageID, isFreelistPage: Bool = false) throws {
        let p = try page(id)
        guard database.freelist!.free(txid: meta.txid, id: id, overflow: p.overflow, isFreelistPage: isFreelistPage) else {
            throw WitchboltError(.corrupted, "page \(id): freed twice, or a meta page (the tree references it twice)")
        }
    }

    /// Allocates `count` contiguous pages, lets `write` fill them, and queues them for commit.
    func allocatePages(_ count: Int, _ write: (UnsafeMutableRawPointer) -> Int) throws -> PageID {
        // From the commit's reserved run first, then the free list, then the end of the file.
        var id = takeReserved(count)
        if id != 0 {
            database.freelist!.recordAllocation(id, txid: meta.txid)
        } else {
            id = database.freelist!.allocate(txid: meta.txid, count: count)
        }
        if id == 0 {
            // No free run fits: take pages at the end of the file.
            id = meta.pgid
            let newHighWaterMark = meta.pgid + PageID(count)
            try database.ensureCapacity(pages: newHighWaterMark + 1, pageSize: pageSize)
            meta.pgid = newHighWaterMark
        }
        let recycled = count == 1 ? database.pagePool.take() : nil
        // Room for a small commit's pages at once, rather than regrowing 1, 2, 4, 8.
        if dirty.capacity == 0 { dirty.reserveCapacity(8) }
        dirty.append(PageBuffer(id: id, count: count, pageSize: pageSize, recycled: recycled, fill: write))
        stats.pageAllocations += count
        return id
    }

    // MARK: Ending

    /// Discards the transaction's changes and ends it.
    ///
    /// - Precondition: not called inside `view`, `update` or `batch`.
    public func rollback() {
        precondition(!isManaged, "rollback inside view/update/batch is not allowed: throw from the closure instead")
        guard isOpen else { return }
        rollbackUnchecked()
    }

    func rollbackUnchecked() {
        guard isOpen else { return }
        if isWritable {
            database.discardWrites(of: self)
            // Nothing saw the unwritten pages: their buffers can be reused.
            database.pagePool.recycle(dirty)
        }
        close()
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        database.transactionEnded(self)
        root = nil
        dirty = []
    }
}
