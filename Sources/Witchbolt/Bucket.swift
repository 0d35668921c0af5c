// Licensed under the Apache License, Version 2.0. Port of bbolt's bucket.go (the public half).
//
// A bucket is a B+tree of keys and values, or of nested buckets, inside a transaction. Its
// header (root page and sequence) lives as a value in its parent; a small bucket with no
// nested buckets is stored inline in that value instead of on pages of its own.

/// A collection of key/value pairs and nested buckets, sorted by key (bytes, unsigned).
///
/// A bucket is valid only inside the transaction that produced it.
///
/// ```swift
/// try db.update { tx in
///     let users = try tx.createBucketIfNotExists("users")
///     try users.put("alice", "admin")
/// }
/// ```
public final class Bucket {
    // unowned(unsafe): a transaction outlives its buckets.
    unowned(unsafe) let tx: Tx
    var header: BucketHeader
    /// The inline page, when the bucket is stored inline in its parent's value.
    var inlinePage: PageRef?
    /// Owned copy of an inline page in a write transaction (freed on deinit).
    var inlineStorage: UnsafeMutableRawBufferPointer?
    @exclusivity(unchecked) var rootNode: Node?
    @exclusivity(unchecked) var nodes = NodeTable()
    /// Nested buckets opened in this transaction, by name. (Like the fields above, only the
    /// transaction's thread touches it, and no access overlaps another: unchecked.)
    @exclusivity(unchecked) var children: [[UInt8]: Bucket] = [:]
    /// Every node created in this transaction, kept alive until it ends, so that nodes and
    /// cursors can refer to each other without reference counting (`unowned(unsafe)` parents,
    /// `Unmanaged` references in cursor frames and the node table).
    @exclusivity(unchecked) var liveNodes: [Node] = []
    /// A cursor reused by get, put, delete and bucket lookups, so they allocate nothing.
    private var scratchCursor: Cursor?

    /// The reusable internal cursor.
    @inline(__always)
    func internalCursor() -> Cursor {
        if let c = scratchCursor { return c }
        let c = Cursor(bucket: self)
        scratchCursor = c
        return c
    }

    /// The fill percent at which pages split (0.1 to 1.0; default 0.5). Not persisted.
    /// Raise it for sequential inserts to get fuller pages.
    public var fillPercent: Double = PageLayout.defaultFillPercent

    init(tx: Tx, header: BucketHeader) {
        self.tx = tx
        self.header = header
    }

    deinit { inlineStorage?.deallocate() }

    /// The bucket's sequence number.
    public var sequence: UInt64 { header.sequence }

    /// Whether the bucket belongs to a writable transaction.
    public var isWritable: Bool { tx.isWritable }

    /// The bucket's root page id (0 for an inline bucket).
    public var rootPageID: UInt64 { header.root }

    // MARK: Nested buckets

    /// The nested bucket named `name`, or nil when there is none.
    /// - Throws: `.corrupted` when a page on the way is invalid.
    public func bucket(_ name: [UInt8]) throws -> Bucket? {
        if let child = children[name] { return child }
        let c = internalCursor()
        guard let (k, v, flags) = try name.withUnsafeBytes({ try c.seekRaw($0) }),
              compareBytes(k, name) == 0, flags & PageLayout.bucketLeafFlag != 0 else { return nil }
        let child = try openBucket(value: v, name: name)
        children[name] = child
        return child
    }

    /// The nested bucket `name`, which a cursor has just shown to exist; a file whose keys are
    /// out of order can make it unfindable, which is corruption, not a crash.
    func requireBucket(_ name: [UInt8]) throws -> Bucket {
        guard let child = try bucket(name) else {
            throw WitchboltError(.corrupted, "bucket \(hex(name)) is listed but cannot be found: keys out of order in bucket rooted at page \(header.root)")
        }
        return child
    }

    /// Opens the bucket whose header (and inline page) is `value`.
    func openBucket(value: UnsafeRawBufferPointer, name: [UInt8]) throws -> Bucket {
        guard value.count >= PageLayout.bucketHeaderSize else {
            throw WitchboltError(.corrupted, "bucket \(hex(name)): its header is \(value.count) bytes, expected at least 16")
        }
        // A bucket whose header points back at an ancestor's pages nests forever: a cycle.
        guard nestingDepth < Self.maxNestingDepth else {
            throw WitchboltError(.corrupted, "bucket \(hex(name)): buckets nested deeper than \(Self.maxNestingDepth) levels (a cycle of bucket pages?)")
        }
        let child = Bucket(tx: tx, header: BucketHeader(reading: value.baseAddress!))
        child.parentBucket = self
        child.nestingDepth = nestingDepth + 1
        if child.header.root == 0 {
            let pageBytes = value.count - PageLayout.bucketHeaderSize
            guard pageBytes >= PageLayout.headerSize else {
                throw WitchboltError(.corrupted, "inline bucket \(hex(name)): its page is \(pageBytes) bytes")
            }
            if tx.isWritable {
                // A write transaction may change the memory the value lives in: keep a copy.
                let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: pageBytes, alignment: 8)
                storage.copyMemory(from: UnsafeRawBufferPointer(rebasing: value[PageLayout.bucketHeaderSize...]))
                child.inlineStorage = storage
                child.inlinePage = PageRef(UnsafeRawPointer(storage.baseAddress!), extent: pageBytes)
            } else {
                child.inlinePage = PageRef(value.baseAddress! + PageLayout.bucketHeaderSize, extent: pageBytes)
            }
            guard child.inlinePage!.isLeaf else {
                throw WitchboltError(.corrupted, "inline bucket \(hex(name)): its page is not a leaf")
            }
        } else if child.header.root >= tx.meta.pgid {
            throw WitchboltError(.corrupted, "bucket \(hex(name)): root page \(child.header.root) is past the high-water mark \(tx.meta.pgid)")
        }
        return child
    }

    /// Creates a nested bucket.
    /// - Throws: `.bucketExists`, `.incompatibleValue` (a value has that key),
    ///   `.bucketNameRequired`, `.keyTooLarge`, `.txNotWritable`, `.txClosed`.
    @discardableResult
    public func createBucket(_ name: [UInt8]) throws -> Bucket {
        try checkWritable()
        guard !name.isEmpty else { throw WitchboltError(.bucketNameRequired) }
        guard name.count <= PageLayout.maxKeySize else { throw WitchboltError(.keyTooLarge) }
        let c = internalCursor()
        if let (k, _, flags) = try name.withUnsafeBytes({ try c.seekRaw($0) }), compareBytes(k, name) == 0 {
            throw WitchboltError(flags & PageLayout.bucketLeafFlag != 0 ? .bucketExists : .incompatibleValue)
        }
        try insertEmptyBucket(named: name, at: c)
        return try requireBucket(name)
    }

    /// Creates a nested bucket, or returns the existing one.
    /// - Throws: `.incompatibleValue` (a value has that key), `.bucketNameRequired`,
    ///   `.keyTooLarge`, `.txNotWritable`, `.txClosed`.
    @discardableResult
    public func createBucketIfNotExists(_ name: [UInt8]) throws -> Bucket {
        try checkWritable()
        guard !name.isEmpty else { throw WitchboltError(.bucketNameRequired) }
        guard name.count <= PageLayout.maxKeySize else { throw WitchboltError(.keyTooLarge) }
        if let child = children[name] { return child }
        let c = internalCursor()
        if let (k, v, flags) = try name.withUnsafeBytes({ try c.seekRaw($0) }), compareBytes(k, name) == 0 {
            guard flags & PageLayout.bucketLeafFlag != 0 else { throw WitchboltError(.incompatibleValue) }
            let child = try openBucket(value: v, name: name)
            children[name] = child
            return child
        }
        try insertEmptyBucket(named: name, at: c)
        return try requireBucket(name)
    }

    private func insertEmptyBucket(named name: [UInt8], at c: Cursor) throws {
        // An empty, inline bucket: a header and an empty leaf page.
        var value = [UInt8](repeating: 0, count: PageLayout.bucketHeaderSize + PageLayout.headerSize)
        value.withUnsafeMutableBytes { p in
            p.storeBytes(of: PageLayout.leafFlag, toByteOffset: PageLayout.bucketHeaderSize + 8, as: UInt16.self)
        }
        let storedName = tx.arena.copy(name)
        try c.node().put(oldKey: storedName, newKey: storedName, value: tx.arena.copy(value), pgid: 0, flags: PageLayout.bucketLeafFlag)
        // Nested buckets are not allowed in inline buckets: this bucket is no longer inline.
        inlinePage = nil
    }

    /// Deletes a nested bucket and everything in it.
    /// - Throws: `.bucketNotFound`, `.incompatibleValue` (a value has that key),
    ///   `.txNotWritable`, `.txClosed`.
    public func deleteBucket(_ name: [UInt8]) throws {
        try checkWritable()
        let c = internalCursor()
        guard let (k, _, flags) = try name.withUnsafeBytes({ try c.seekRaw($0) }), compareBytes(k, name) == 0 else {
            throw WitchboltError(.bucketNotFound)
        }
        guard flags & PageLayout.bucketLeafFlag != 0 else { throw WitchboltError(.incompatibleValue) }

        // Recursively delete all nested buckets.
        let child = try requireBucket(name)
        var names: [[UInt8]] = []
        try child.forEachBucket { names.append($0) }
        for n in names { try child.deleteBucket(n) }

        // Release all of the bucket's pages to the free list.
        children[name] = nil
        child.nodes = NodeTable()
        child.rootNode = nil
        try child.free()

        // Delete the key.
        try name.withUnsafeBytes { try c.node().delete($0) }
    }

    /// Moves the nested bucket `name` from this bucket into `target` (nil: the root).
    /// - Throws: `.bucketNotFound`, `.bucketExists` (in the target), `.incompatibleValue`,
    ///   `.sameBuckets`, `.differentDB`, `.txNotWritable`, `.txClosed`.
    public func moveBucket(_ name: [UInt8], to target: Bucket?) throws {
        try checkWritable()
        let target: Bucket = target ?? tx.root!
        guard target.tx === tx else { throw WitchboltError(.differentDB) }
        guard target !== self else { throw WitchboltError(.sameBuckets) }
        let c = internalCursor()
        guard let (k, v, flags) = try name.withUnsafeBytes({ try c.seekRaw($0) }), compareBytes(k, name) == 0 else {
            throw WitchboltError(.bucketNotFound)
        }
        guard flags & PageLayout.bucketLeafFlag != 0 else { throw WitchboltError(.incompatibleValue) }
        let value = Array(v)
        let moved = try requireBucket(name)
        // A bucket cannot move into itself or one of its descendants.
        var ancestor: Bucket? = target
        while let a = ancestor {
            if a === moved { throw WitchboltError(.incompatibleValue, "cannot move bucket \(hex(name)) into itself or a descendant") }
            ancestor = a.parentBucket
        }
        let tc = Cursor(bucket: target)
        if let (tk, _, tflags) = try name.withUnsafeBytes({ try tc.seekRaw($0) }), compareBytes(tk, name) == 0 {
            throw WitchboltError(tflags & PageLayout.bucketLeafFlag != 0 ? .bucketExists : .incompatibleValue)
        }
        // Remove the bucket from this bucket, then add it to the target; the opened bucket
        // object moves too, so changes made to it in this transaction are kept.
        children[name] = nil
        try name.withUnsafeBytes { try c.node().delete($0) }
        let storedName = tx.arena.copy(name)
        try tc.node().put(oldKey: storedName, newKey: storedName, value: tx.arena.copy(value), pgid: 0, flags: PageLayout.bucketLeafFlag)
        target.inlinePage = nil
        moved.parentBucket = target
        moved.nestingDepth = target.nestingDepth + 1
        target.children[name] = moved
    }

    /// How deep the bucket is nested (the root is 0).
    var nestingDepth = 0
    /// The deepest nesting a file may have; deeper means a cycle in a corrupt file.
    static let maxNestingDepth = 256

    /// The bucket this one is nested in (nil for the root and for buckets opened from the root).
    weak var parentBucket: Bucket?

    // MARK: Keys and values

    /// The value of `key`, as a copy; nil when the key is absent or holds a nested bucket.
    /// - Throws: `.corrupted` when a page on the way is invalid.
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try withValue(key) { $0.map { Array($0) } }
    }

    /// Calls `body` with the value of `key` in place (no copy), or nil when absent.
    ///
    /// - Important: the buffer is valid only during `body`.
    @inlinable
    public func withValue<R>(_ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R) throws -> R {
        // Inlinable, so that callers specialise it: an unspecialised generic looked up its
        // type metadata at run time on every call (4% of random reads).
        try body(valueView(key))
    }

    /// The value of `key` in place, or nil when absent or a nested bucket; valid while the
    /// transaction is open and the bucket unchanged.
    @usableFromInline
    func valueView(_ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        let c = internalCursor()
        guard let (k, v, flags) = try key.withUnsafeBytes({ try c.seekRaw($0) }),
              flags & PageLayout.bucketLeafFlag == 0, compareBytes(k, key) == 0 else { return nil }
        return v
    }

    /// Sets the value of `key` (the transaction keeps a copy of both until it ends).
    /// - Throws: `.keyRequired`, `.keyTooLarge`, `.valueTooLarge`, `.incompatibleValue` (a
    ///   nested bucket has that key), `.txNotWritable`, `.txClosed`.
    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try checkWritable()
        guard !key.isEmpty else { throw WitchboltError(.keyRequired) }
        guard key.count <= PageLayout.maxKeySize else { throw WitchboltError(.keyTooLarge) }
        guard value.count <= PageLayout.maxValueSize else { throw WitchboltError(.valueTooLarge) }
        let c = internalCursor()
        let item = try key.withUnsafeBytes { try c.seekRaw($0) }
        let exact = item.map { compareBytes($0.key, key) == 0 } ?? false
        if let item, exact, item.flags & PageLayout.bucketLeafFlag != 0 {
            throw WitchboltError(.incompatibleValue)
        }
        // The node keeps views, so the key and value are copied into the transaction's arena.
        let inode = Inode(flags: 0, pgid: 0, key: tx.arena.copy(key), value: tx.arena.copy(value))
        // When the cursor already stands on the leaf node, insert where it stands: no second search.
        let top = c.stack[c.stack.count - 1]
        if let leaf = top.node, leaf.isLeaf {
            leaf.insert(inode, at: top.index, replacing: exact)
        } else {
            try c.node().put(oldKey: inode.key, newKey: inode.key, value: inode.value, pgid: 0, flags: 0)
        }
    }

    /// Removes `key`; absent keys are not an error.
    /// - Throws: `.incompatibleValue` (a nested bucket has that key), `.txNotWritable`, `.txClosed`.
    public func delete(_ key: [UInt8]) throws {
        try checkWritable()
        let c = internalCursor()
        guard let (k, _, flags) = try key.withUnsafeBytes({ try c.seekRaw($0) }), compareBytes(k, key) == 0 else { return }
        guard flags & PageLayout.bucketLeafFlag == 0 else { throw WitchboltError(.incompatibleValue) }
        try key.withUnsafeBytes { try c.node().delete($0) }
    }

    // MARK: Sequence

    /// Sets the bucket's sequence number.
    public func setSequence(_ value: UInt64) throws {
        try checkWritable()
        // Materialise the root node so the bucket is saved at commit.
        if rootNode == nil { _ = try node(header.root, parent: nil) }
        header.sequence = value
    }

    /// Increments and returns the bucket's sequence number.
    public func nextSequence() throws -> UInt64 {
        try checkWritable()
        if rootNode == nil { _ = try node(header.root, parent: nil) }
        header.sequence &+= 1
        return header.sequence
    }

    // MARK: Iteration

    /// A cursor over this bucket's keys.
    public func cursor() -> Cursor { Cursor(bucket: self) }

    /// Calls `body` for every key in order, with its value (nil for a nested bucket).
    /// - Important: do not modify the bucket inside `body`.
    public func forEach(_ body: ([UInt8], [UInt8]?) throws -> Void) throws {
        let c = Cursor(bucket: self)
        var item = try c.first()
        while let (k, v) = item {
            try body(k, v)
            item = try c.next()
        }
    }

    /// Calls `body` for every key in order with the key and value in place, without copying
    /// (nil value for a nested bucket). The fastest way to scan.
    ///
    /// - Important: the buffers are valid only during each call; do not modify the bucket
    ///   inside `body`.
    public func forEachInPlace(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> Void) throws {
        try Cursor(bucket: self).forEachRaw { k, v, flags in
            try body(k, flags & PageLayout.bucketLeafFlag != 0 ? nil : v)
        }
    }

    /// Calls `body` with the name of every nested bucket, in order.
    public func forEachBucket(_ body: ([UInt8]) throws -> Void) throws {
        let c = Cursor(bucket: self)
        var item = try c.firstRaw()
        while let (k, _, flags) = item {
            if flags & PageLayout.bucketLeafFlag != 0 { try body(Array(k)) }
            item = try c.nextRaw()
        }
    }

    // MARK: Internals

    func checkWritable() throws {
        guard tx.isOpen else { throw WitchboltError(.txClosed) }
        guard tx.isWritable else { throw WitchboltError(.txNotWritable) }
    }

    /// The page or node for `id` (bbolt: Bucket.pageNode).
    /// The node comes back unretained: the bucket keeps it alive for the transaction.
    @inline(__always)
    func pageNode(_ id: PageID) throws -> (PageRef?, Unmanaged<Node>?) {
        if header.root == 0 {
            guard id == 0 else { throw WitchboltError(.corrupted, "inline bucket refers to page \(id)") }
            if let rootNode { return (nil, Unmanaged.passUnretained(rootNode)) }
            return (inlinePage, nil)
        }
        if !nodes.isEmpty, let n = nodes.ref(id) { return (nil, n) }
        // Unretained: the transaction outlives its buckets' calls (a retain here was 3% of
        // random reads).
        return (try Unmanaged.passUnretained(tx)._withUnsafeGuaranteedRef { try $0.page(id) }, nil)
    }

    /// The node for page `id`, materialised on first use (bbolt: Bucket.node).
    func node(_ id: PageID, parent: Node?) throws -> Node {
        if let n = nodes[id] { return n }
        let page: PageRef
        if let inlinePage, header.root == 0 { page = inlinePage } else { page = try tx.page(id) }
        guard page.isLeaf || page.isBranch else {
            throw WitchboltError(.corrupted, "page \(id) is a \(page.kindName) page where a branch or leaf was expected")
        }
        let n = Node(bucket: self, isLeaf: page.isLeaf, parent: parent)
        if let parent { parent.children.append(n) } else { rootNode = n }
        n.read(page)
        nodes[id] = n
        tx.stats.nodeCount += 1
        return n
    }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var s = ""
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0xF)])
    }
    return s
}
