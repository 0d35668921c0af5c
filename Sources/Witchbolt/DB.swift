// Licensed under the Apache License, Version 2.0. Port of bbolt's db.go (open, init, meta, grow).
//
// A database is one file of pages: two meta pages, a free list, and the pages of a B+tree of
// buckets. The file is mapped read-only; all writes go through pwrite. One writer at a time
// (the writer lock), any number of readers, each seeing the meta page it copied.

import CPageIO
import Logging

/// An open database file.
///
/// ```swift
/// let db = try DB.open(path: "data.db")
/// try db.update { tx in
///     try tx.createBucketIfNotExists("users").put("alice", "admin")
/// }
/// let role = try db.view { tx in try tx.bucket("users")?.get("alice") }
/// try db.close()
/// ```
///
/// `DB` is `Sendable`: share it between threads. Transactions are synchronous; from Swift
/// concurrency, call them from a dedicated thread or executor rather than the cooperative
/// pool when they may block on disk (see the Concurrency section of the README).
public final class DB: @unchecked Sendable {
    // @unchecked Sendable because every mutable field is guarded: `state` by `stateLock`,
    // writes by `writerLock` (only the writer touches `freelist`, `fileSize` and `pagePool`), and meta
    // page reads and writes by `metaLock`.

    /// The file's path.
    public let path: String
    /// The options the database was opened with.
    public let options: Options
    /// The database's page size in bytes.
    public let pageSize: Int
    let file: DataFile
    let writerLock = Lock()
    let metaLock = Lock()
    let stateLock = Lock()
    let batchCondition = Condition()
    var batchLock: Lock { batchCondition.lock }
    /// The batch callers may still join (guarded by `batchLock`).
    var currentBatch: Batch?
    // @exclusivity(unchecked) on the writer's fields: only the writer touches them, under
    // `writerLock`, and no access to one overlaps another; the dynamic checks (a thread-local
    // lookup each) cost about a microsecond of a durable one-put commit.
    /// The free list; nil in a read-only database until `check` loads it.
    @exclusivity(unchecked) var freelist: Freelist?
    @exclusivity(unchecked) var fileSize: Int64
    /// One-page buffers reused by write transactions (guarded by `writerLock`).
    @exclusivity(unchecked) var pagePool: PagePool

    struct State {
        var map: MemoryMap
        var isOpen = true
        var poisoned: WitchboltError?
        var readers: [TxID: Int] = [:]
        var observers: [any PageFlushObserver] = []
        var closers: [() throws -> Void] = []
        var txCount = 0
        var openTxCount = 0
    }
    var state: State

    var logger: Logger { options.logger }
    #if WITCHBOLT_TEST_HOOKS
    var testHooks: TestHooks { options.testHooks }
    #endif

    // MARK: Opening

    /// Opens (or, unless read-only, creates) the database at `path`.
    ///
    /// Each page-flush registration's `prepare` runs first, before the file is opened, locked
    /// or created; then the file is locked, created if missing, validated and mapped; then each
    /// registration's `start` runs with the open database.
    ///
    /// - Throws: `.invalid`, `.versionMismatch`, `.checksum` (both meta pages bad),
    ///   `.corrupted`, `.timeout` (the lock), `.io`, or an observer's error.
    public static func open(path: String, options: Options = Options()) throws -> DB {
        for registration in options.pageFlushObservers { try registration.prepare?(path) }
        let db = try DB(path: path, options: options)
        do {
            try db.startObservers()
        } catch {
            try? db.close()
            throw error
        }
        return db
    }

    private init(path: String, options: Options) throws {
        self.path = path
        self.options = options
        let requestedPageSize = options.pageSize == 0 ? PageLayout.defaultPageSize : options.pageSize
        guard requestedPageSize >= PageLayout.minPageSize, requestedPageSize <= PageLayout.maxPageSize,
              requestedPageSize & (requestedPageSize - 1) == 0 else {
            throw WitchboltError(.invalid, "invalid page size \(requestedPageSize): it must be a power of two from 1024 to 65536")
        }

        // Open and lock the file: exclusive for writers, shared for readers.
        #if WITCHBOLT_TEST_HOOKS
        file = try DataFile(path: path, readOnly: options.readOnly, create: !options.readOnly, faults: options.testHooks.fileFaults)
        #else
        file = try DataFile(path: path, readOnly: options.readOnly, create: !options.readOnly)
        #endif
        try file.lock(exclusive: !options.readOnly, timeout: options.timeout)

        // Initialise a new file; otherwise find the page size from the meta pages.
        var size = try file.size()
        var initialFrames: [PageBuffer]?
        if size == 0 {
            guard !options.readOnly else { throw WitchboltError(.invalid, "invalid database: \(path) is empty") }
            initialFrames = try Self.initialize(file: file, pageSize: requestedPageSize)
            size = try file.size()
            pageSize = requestedPageSize
        } else {
            pageSize = try Self.discoverPageSize(file: file, fileSize: size, path: path)
        }
        fileSize = size
        pagePool = PagePool(pageSize: pageSize)
        // Both meta pages must be inside the file before anything reads them through the map.
        guard size >= Int64(2 * pageSize) else {
            throw WitchboltError(.invalid, "invalid database: \(path) has \(size) bytes, less than its two \(pageSize)-byte meta pages")
        }

        // Map the file and validate the meta pages.
        #if WITCHBOLT_TEST_HOOKS
        if let failpoint = options.testHooks.failpoint { try failpoint(.mapError) }
        #endif
        let map = try MemoryMap(file: file, length: MemoryMap.windowSize(fileSize: size, initial: options.initialMmapSize, pageSize: pageSize), minimum: Int(size))
        state = State(map: map)
        let meta = try activeMeta()
        guard Int64(meta.pgid) * Int64(pageSize) <= size else {
            throw WitchboltError(.corrupted, "\(path) is truncated: its meta page says \(meta.pgid) pages of \(pageSize) bytes, the file has \(size) bytes")
        }
        guard meta.root.root < meta.pgid, meta.root.root >= 2 else {
            throw WitchboltError(.corrupted, "\(path): the root bucket's page \(meta.root.root) is outside the file's \(meta.pgid) pages")
        }
        guard meta.freelist == PageLayout.noFreelist || (meta.freelist >= 2 && meta.freelist < meta.pgid) else {
            throw WitchboltError(.corrupted, "\(path): the free list page \(meta.freelist) is outside the file's \(meta.pgid) pages")
        }

        // A writer needs the free list: read it, or rebuild it by walking the tree.
        if !options.readOnly {
            try loadFreelist(meta: meta)
            // A file written without a free list gets one now, unless that mode is kept.
            if meta.freelist == PageLayout.noFreelist && !options.noFreelistSync {
                try update { _ in }
            }
        }
        pendingInitialFrames = initialFrames
    }

    /// The frames of a file this open created, delivered to the first observers.
    var pendingInitialFrames: [PageBuffer]?

    /// Writes a new file's four pages: two metas, an empty free list and an empty leaf (bbolt: db.init).
    private static func initialize(file: DataFile, pageSize: Int) throws -> [PageBuffer] {
        var pages: [PageBuffer] = []
        for txid: TxID in 0...1 {
            pages.append(PageBuffer(meta: Meta(pageSize: UInt32(pageSize), root: BucketHeader(root: 3, sequence: 0), freelist: 2, pgid: 4, txid: txid), pageSize: pageSize))
        }
        var freelist = PageBuffer(id: 2, count: 1, pageSize: pageSize)
        freelist.writeFreelist([])
        pages.append(freelist)
        var leaf = PageBuffer(id: 3, count: 1, pageSize: pageSize)
        leaf.bytes.withUnsafeMutableBytes { $0.storeBytes(of: PageLayout.leafFlag, toByteOffset: 8, as: UInt16.self) }
        pages.append(leaf)
        let all = pages.flatMap(\.bytes)
        try all.withUnsafeBytes { try file.write($0, at: 0) }
        try file.sync()
        return pages
    }

    /// Finds the page size from meta 0, else by probing meta 1 at each possible offset (bbolt: getPageSize).
    private static func discoverPageSize(file: DataFile, fileSize: Int64, path: String) throws -> Int {
        var firstError: WitchboltError?
        var buffer = [UInt8](repeating: 0, count: 4096)
        func metaAt(_ offset: Int64) throws -> Meta? {
            let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: offset) }
            guard n >= PageLayout.headerSize + PageLayout.metaSize else { return nil }
            let meta = buffer.withUnsafeBytes { Meta(page: $0.baseAddress!) }
            if let error = meta.validate() {
                if firstError == nil { firstError = error }
                return nil
            }
            return meta
        }
        if let meta = try metaAt(0), Int(meta.pageSize) >= PageLayout.minPageSize, Int(meta.pageSize) <= PageLayout.maxPageSize,
           meta.pageSize & (meta.pageSize - 1) == 0 {
            return Int(meta.pageSize)
        }
        for shift in 0..<7 {
            let candidate = PageLayout.minPageSize << shift
            if Int64(candidate) >= fileSize { break }
            if let meta = try metaAt(Int64(candidate)), Int(meta.pageSize) == candidate { return candidate }
        }
        let reason = firstError.map { "\($0.message)" } ?? "no readable meta page"
        throw WitchboltError(firstError?.code ?? .invalid, "\(path) is not a valid Witchbolt/bbolt database: \(reason)")
    }

    /// The meta page with the higher txid that validates (bbolt: db.meta).
    func activeMeta() throws -> Meta {
        try activeMeta(map: stateLock.withLock { state.map })
    }

    /// The active meta page as `map` shows it.
    func activeMeta(map: MemoryMap) throws -> Meta {
        try metaLock.withLock {
            let a = Meta(page: map.base)
            let b = Meta(page: map.base + pageSize)
            let (first, second) = b.txid > a.txid ? (b, a) : (a, b)
            if first.validate() == nil && Int(first.pageSize) == pageSize { return first }
            if second.validate() == nil && Int(second.pageSize) == pageSize { return second }
            throw a.validate() ?? b.validate() ?? WitchboltError(.invalid, "invalid database: no valid meta page")
        }
    }

    // MARK: Free list

    /// Loads the free list from its page, or rebuilds it by walking the tree.
    func loadFreelist(meta: Meta) throws {
        let freelist = Freelist.make(options.freelistType)
        if meta.freelist == PageLayout.noFreelist {
            freelist.load(try reachableFreePages(meta: meta))
        } else {
            freelist.load(try freelistIDs(at: meta.freelist, meta: meta))
        }
        self.freelist = freelist
    }

    /// The ids stored in the freelist page `id`, validated against the file.
    func freelistIDs(at id: PageID, meta: Meta) throws -> [PageID] {
        let map = stateLock.withLock { state.map }
        let header = PageRef(map.base + Int(id) * pageSize, extent: pageSize)
        guard header.flags == PageLayout.freelistFlag, header.id == id, PageID(header.overflow) < meta.pgid - id else {
            throw WitchboltError(.corrupted, "page \(id) should be the free list but is a \(header.kindName) page")
        }
        let page = PageRef(header.base, extent: Int(header.overflow + 1) * pageSize)
        guard let ids = page.freelistIDs() else {
            throw WitchboltError(.corrupted, "free list page \(id): its count runs past the page")
        }
        for pid in ids where pid < 2 || pid >= meta.pgid {
            throw WitchboltError(.corrupted, "free list page \(id) lists page \(pid), outside [2, \(meta.pgid))")
        }
        return ids
    }

    /// Every page in `[2, hwm)` that no bucket reaches (bbolt: db.freepages).
    func reachableFreePages(meta: Meta) throws -> [PageID] {
        let map = stateLock.withLock { state.map }
        let tx = Tx(db: self, meta: meta, map: map, writable: false)
        defer { tx.isOpen = false }
        var reachable = Set<PageID>()
        try tx.forEachReachablePage { id, overflow in
            for i in 0...PageID(overflow) { reachable.insert(id + i) }
        }
        var free: [PageID] = []
        for id in PageID(2)..<meta.pgid where !reachable.contains(id) { free.append(id) }
        return free
    }

    // MARK: Growth

    /// Makes sure the mapping covers `pages` pages, remapping into a larger window if the file
    /// outgrew it, and that the file may grow that far.
    func ensureCapacity(pages: PageID, pageSize: Int) throws {
        let needed = Int64(pages) * Int64(pageSize)
        if options.maxSize > 0 && needed > Int64(options.maxSize) {
            throw WitchboltError(.maxSizeReached, "database reached maximum size: \(needed) bytes needed, the limit is \(options.maxSize)")
        }
        let current = stateLock.withLock { state.map }
        if needed <= Int64(current.length) { return }
        let bigger = try MemoryMap(file: file, length: MemoryMap.windowSize(fileSize: needed, initial: current.length * 2, pageSize: pageSize), minimum: Int(needed))
        stateLock.withLock { state.map = bigger }
    }

    /// Grows the file to at least `size` bytes (bbolt: db.grow): doubling while small, then in
    /// 16 MiB steps, so growth is rare. Unlike bbolt, the new blocks are allocated
    /// (fallocate), not left as a hole that every first write into a page must fill.
    func grow(to size: Int64) throws {
        guard size > fileSize else { return }
        var target = size < (16 << 20) ? max(Int64(32 << 10), Int64(1) << (64 - (size - 1).leadingZeroBitCount)) : size + (16 << 20)
        target = (target + Int64(pageSize) - 1) / Int64(pageSize) * Int64(pageSize)
        if options.maxSize > 0 && target > Int64(options.maxSize) { target = max(size, Int64(options.maxSize)) }
        try file.grow(to: target)
        if !options.noGrowSync && !options.noSync { try file.sync() }
        fileSize = target
    }

    // MARK: Poisoning and hooks

    /// Marks the handle unusable for writes after a failed write or sync.
    func poison(_ error: any Error) {
        let reason = (error as? WitchboltError)?.description ?? "\(error)"
        stateLock.withLock {
            if state.poisoned == nil {
                state.poisoned = WitchboltError(.poisoned, "database handle poisoned by an earlier write failure (\(reason)); reopen the database")
            }
        }
        logger.error("commit failed, the handle refuses writes until reopened", metadata: ["path": "\(path)", "error": "\(reason)"])
    }

    @inline(__always)
    func hit(_ failpoint: Failpoint) throws {
        #if WITCHBOLT_TEST_HOOKS
        if let hook = options.testHooks.failpoint { try hook(failpoint) }
        #endif
    }

    @inline(__always)
    func hasPlantedBug(_ bug: PlantedBug) -> Bool {
        #if WITCHBOLT_TEST_HOOKS
        return options.testHooks.plantedBugs.contains(bug)
        #else
        return false
        #endif
    }

    // MARK: Closing

    /// Closes the database: waits for the writer, runs the observers' close steps (while
    /// read transactions still work, so a replication stream can finish its snapshot and
    /// flush), then releases the lock. Read transactions must have ended.
    public func close() throws {
        writerLock.lock()
        defer { writerLock.unlock() }
        // Take the close steps first; the database stays open for reads while they run.
        let closers = stateLock.withLock { () -> [() throws -> Void]? in
            guard state.isOpen else { return nil }
            defer { state.closers = [] }
            return state.closers
        }
        guard let closers else { return }
        var firstError: (any Error)?
        for closer in closers {
            do { try closer() } catch { if firstError == nil { firstError = error } }
        }
        stateLock.withLock {
            state.isOpen = false
            state.observers = []
        }
        file.unlock()
        if let firstError { throw firstError }
    }

    /// Whether the database was opened read-only.
    public var isReadOnly: Bool { options.readOnly }

    /// Flushes the file to disk (useful with `noSync`).
    public func sync() throws { try file.sync() }
}

#if !WITCHBOLT_TEST_HOOKS
/// Failpoints exist only in test builds; release builds compile the calls away.
enum Failpoint { case beforeWriteFreelist, beforeSyncDataPages, beforeWriteMeta, beforeSyncMetaPage, lackOfDiskSpace, mapError }
enum PlantedBug { case metaBeforeDataSync, tornFreelist, skipDataSync }
#endif
