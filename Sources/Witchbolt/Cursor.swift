// Licensed under the Apache License, Version 2.0. Port of bbolt's cursor.go.
//
// A cursor walks a bucket's tree in key order. It keeps the path from the root to the
// current element as a stack of frames, each on a page (read from the map) or, where the
// write transaction materialised one, a node. Moving past the last key leaves the cursor on
// the last element, and moving before the first leaves it on the first, as in bbolt.

/// A position in a bucket, moving in key order.
///
/// Keys and values come back as copies. A cursor is valid only inside its transaction.
///
/// ```swift
/// let c = bucket.cursor()
/// var item = try c.first()
/// while let (key, value) = item {
///     print(key, value ?? "bucket")
///     item = try c.next()
/// }
/// ```
public final class Cursor {
    /// One level of the path: a page or node, and the index in it.
    struct Frame {
        var page: PageRef?
        // Unmanaged: the bucket keeps every node alive for the transaction (`liveNodes`), and
        // a cursor never outlives it, so frames need not count references. A strong reference
        // cost a retain and a release on every frame copied during a descent.
        // (`unowned(unsafe) var` here miscompiled in debug builds.)
        var nodeRef: Unmanaged<Node>?
        var index: Int

        @inline(__always) init(page: PageRef?, node: Unmanaged<Node>?, index: Int) {
            self.page = page
            self.nodeRef = node
            self.index = index
        }

        @inline(__always) var node: Node? { nodeRef?.takeUnretainedValue() }

        @inline(__always) var count: Int {
            if let nodeRef { return nodeRef._withUnsafeGuaranteedRef { $0.inodes.count } }
            return page!.count
        }

        @inline(__always) var isLeaf: Bool {
            if let nodeRef { return nodeRef._withUnsafeGuaranteedRef { $0.isLeaf } }
            return page!.isLeaf
        }

        @inline(__always) func childID() -> PageID {
            if let nodeRef { return nodeRef._withUnsafeGuaranteedRef { $0.inodes[index].pgid } }
            return page!.branchPageID(index)
        }
    }

    /// The deepest a tree may be; deeper means a cycle in a corrupt file.
    static let maxDepth = 64

    typealias RawItem = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, flags: UInt32)

    // unowned: the bucket keeps its internal cursor, and the transaction keeps the bucket.
    unowned(unsafe) let bucket: Bucket
    @exclusivity(unchecked) var stack: [Frame] = []

    init(bucket: Bucket) {
        self.bucket = bucket
        stack.reserveCapacity(6)
    }

    // MARK: Public moves

    /// Moves to the first key; nil when the bucket is empty.
    public func first() throws -> (key: [UInt8], value: [UInt8]?)? { Self.copy(try firstRaw()) }
    /// Moves to the last key; nil when the bucket is empty.
    public func last() throws -> (key: [UInt8], value: [UInt8]?)? { Self.copy(try lastRaw()) }
    /// Moves to the next key; nil at the end.
    public func next() throws -> (key: [UInt8], value: [UInt8]?)? { Self.copy(try nextRaw()) }
    /// Moves to the previous key; nil at the beginning.
    public func prev() throws -> (key: [UInt8], value: [UInt8]?)? { Self.copy(try prevRaw()) }
    /// Moves to `key`, or to the next key after it; nil when there is none.
    public func seek(_ key: [UInt8]) throws -> (key: [UInt8], value: [UInt8]?)? {
        Self.copy(try key.withUnsafeBytes { try seekForward($0) })
    }

    /// Deletes the key under the cursor.
    /// - Throws: `.incompatibleValue` when it is a nested bucket, `.txNotWritable`, `.txClosed`.
    public func delete() throws {
        try bucket.checkWritable()
        guard let (k, _, flags) = keyValue() else { return }
        guard flags & PageLayout.bucketLeafFlag == 0 else { throw WitchboltError(.incompatibleValue) }
        let key = Array(k)
        try key.withUnsafeBytes { try node().delete($0) }
    }

    /// Calls `body` with the current key and value in place (no copy); nil value for a bucket.
    /// - Important: the buffers are valid only during `body`.
    public func withCurrent<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> R) rethrows -> R? {
        guard let (k, v, flags) = keyValue() else { return nil }
        return try body(k, flags & PageLayout.bucketLeafFlag != 0 ? nil : v)
    }

    private static func copy(_ item: RawItem?) -> (key: [UInt8], value: [UInt8]?)? {
        guard let (k, v, flags) = item else { return nil }
        return (Array(k), flags & PageLayout.bucketLeafFlag != 0 ? nil : Array(v))
    }

    // MARK: Raw moves (bbolt's lower-case functions)

    func firstRaw() throws -> RawItem? {
        stack.removeAll(keepingCapacity: true)
        let (p, n) = try bucket.pageNode(bucket.header.root)
        stack.append(Frame(page: p, node: n, index: 0))
        try goToFirstElement()
        // An empty page (after deletes): move on to the next one.
        if stack[stack.count - 1].count == 0 { return try nextRaw() }
        return keyValue()
    }

    func lastRaw() throws -> RawItem? {
        stack.removeAll(keepingCapacity: true)
        let (p, n) = try bucket.pageNode(bucket.header.root)
        var frame = Frame(page: p, node: n, index: 0)
        frame.index = frame.count - 1
        stack.append(frame)
        try goToLastElement()
        // An empty page (after deletes): move back to a previous one. Every step moves
        // strictly back, and reaching the beginning means every leaf is empty: the bucket
        // has no key. (bbolt calls prev() here, which at the beginning moves to the first
        // element again and so loops forever when every leaf is empty.)
        while stack.count > 1 && stack[stack.count - 1].count == 0 {
            guard try stepBack() else {
                _ = try firstRaw()
                return nil
            }
        }
        if stack.isEmpty { return nil }
        return keyValue()
    }

    func nextRaw() throws -> RawItem? {
        while true {
            // Move over one element, going up the stack past the ends of pages.
            var i = stack.count - 1
            while i >= 0 {
                if stack[i].index < stack[i].count - 1 {
                    stack[i].index += 1
                    break
                }
                i -= 1
            }
            // At the end of the root: stay on the last element and report the end.
            if i == -1 { return nil }
            stack.removeSubrange((i + 1)...)
            try goToFirstElement()
            // An empty page: keep moving.
            if stack[stack.count - 1].count == 0 { continue }
            return keyValue()
        }
    }

    func prevRaw() throws -> RawItem? {
        // At the very beginning, stay on the first element (bbolt#733).
        guard try stepBack() else {
            _ = try firstRaw()
            return nil
        }
        if stack.isEmpty { return nil }
        return keyValue()
    }

    /// Moves back one element, going up the stack past the starts of pages; false, without
    /// moving, at the very beginning.
    private func stepBack() throws -> Bool {
        var i = stack.count - 1
        while i >= 0 {
            if stack[i].index > 0 {
                stack[i].index -= 1
                break
            }
            if stack.count == 1 { return false }
            stack.removeLast()
            i -= 1
        }
        if stack.isEmpty { return true }
        try goToLastElement()
        return true
    }

    /// Positions the cursor where `key` is or would be inserted, in its leaf, without moving
    /// on to the next leaf (bbolt: seek): what puts and deletes need.
    func seekRaw(_ key: UnsafeRawBufferPointer) throws -> RawItem? {
        stack.removeAll(keepingCapacity: true)
        try search(key, bucket.header.root)
        return keyValue()
    }

    /// Moves to `key` or the next key after it, crossing to the next leaf if needed (bbolt: Seek).
    func seekForward(_ key: UnsafeRawBufferPointer) throws -> RawItem? {
        let item = try seekRaw(key)
        let top = stack[stack.count - 1]
        if top.index >= top.count { return try nextRaw() }
        return item
    }

    // MARK: Descent

    private func goToFirstElement() throws {
        while true {
            let top = stack[stack.count - 1]
            if top.isLeaf { break }
            guard top.count > 0, stack.count < Self.maxDepth else { throw corruptTree() }
            let (p, n) = try bucket.pageNode(top.childID())
            stack.append(Frame(page: p, node: n, index: 0))
        }
    }

    private func goToLastElement() throws {
        while true {
            let top = stack[stack.count - 1]
            if top.isLeaf { break }
            guard top.count > 0, top.index >= 0, stack.count < Self.maxDepth else { throw corruptTree() }
            let (p, n) = try bucket.pageNode(top.childID())
            var frame = Frame(page: p, node: n, index: 0)
            frame.index = frame.count - 1
            stack.append(frame)
        }
    }

    private func search(_ key: UnsafeRawBufferPointer, _ id: PageID) throws {
        var id = id
        while true {
            let (p, n) = try bucket.pageNode(id)
            if let p, !p.isBranch && !p.isLeaf {
                throw WitchboltError(.corrupted, "page \(p.id): invalid page type \(p.kindName) in a bucket's tree")
            }
            guard stack.count < Self.maxDepth else { throw corruptTree() }
            var frame = Frame(page: p, node: n, index: 0)
            if frame.isLeaf {
                frame.index = Self.leafSearch(key, frame)
                stack.append(frame)
                return
            }
            guard frame.count > 0 else { throw corruptTree() }
            frame.index = Self.branchSearch(key, frame)
            stack.append(frame)
            id = frame.childID()
        }
    }

    /// The index of the child whose range holds `key`: the last element with a key at or
    /// before it (bbolt: searchNode / searchPage).
    @inline(__always)
    private static func branchSearch(_ key: UnsafeRawBufferPointer, _ frame: Frame) -> Int {
        var low = 0, high = frame.count
        if let nodeRef = frame.nodeRef {
            let found: Int? = nodeRef._withUnsafeGuaranteedRef { n in
                while low < high {
                    let mid = (low + high) >> 1
                    let c = compareBytes(n.inodes[mid].key, key)
                    if c < 0 { low = mid + 1 } else if c > 0 { high = mid } else { return mid }
                }
                return nil
            }
            if let found { return found }
        } else {
            let p = frame.page!
            while low < high {
                let mid = (low + high) >> 1
                let c = compareBytes(p.branchKey(mid), key)
                if c < 0 { low = mid + 1 } else if c > 0 { high = mid } else { return mid }
            }
        }
        return low > 0 ? low - 1 : 0
    }

    /// The index of the first element at or after `key` (bbolt: nsearch).
    @inline(__always)
    private static func leafSearch(_ key: UnsafeRawBufferPointer, _ frame: Frame) -> Int {
        if let nodeRef = frame.nodeRef { return nodeRef._withUnsafeGuaranteedRef { $0.search(key).index } }
        let p = frame.page!
        var low = 0, high = p.count
        while low < high {
            let mid = (low + high) >> 1
            let c = compareBytes(p.leafKey(mid), key)
            if c < 0 { low = mid + 1 } else if c > 0 { high = mid } else { return mid }
        }
        return low
    }

    /// The key, value and flags under the cursor.
    @inline(__always)
    func keyValue() -> RawItem? {
        guard let top = stack.last else { return nil }
        guard top.count > 0, top.index >= 0, top.index < top.count else { return nil }
        if let nodeRef = top.nodeRef {
            let inode = nodeRef._withUnsafeGuaranteedRef { $0.inodes[top.index] }
            // The views point at memory that lives as long as the transaction.
            return (inode.key, inode.value, inode.flags)
        }
        let (flags, key, value) = top.page!.leafElement(top.index)
        return (key, value, flags)
    }

    /// Calls `body` for every element from the first on, in order. The elements of a leaf
    /// read from the map go by in one loop over the page; the cursor moves between leaves
    /// (and over materialised nodes) as `nextRaw` does.
    func forEachRaw(_ body: (RawItem) throws -> Void) throws {
        var item = try firstRaw()
        while let current = item {
            let top = stack[stack.count - 1]
            if top.nodeRef == nil, let p = top.page {
                let n = top.count
                for i in top.index..<n {
                    let (flags, key, value) = p.leafElement(i)
                    try body((key, value, flags))
                }
                stack[stack.count - 1].index = n - 1
            } else {
                try body(current)
            }
            item = try nextRaw()
        }
    }

    /// The leaf node under the cursor, materialising the path to it (bbolt: Cursor.node).
    func node() throws -> Node {
        precondition(!stack.isEmpty, "accessing a node with a zero-length cursor stack")
        if let n = stack[stack.count - 1].node, n.isLeaf { return n }
        var n = try stack[0].node ?? bucket.node(bucket.header.root, parent: nil)
        for frame in stack.dropLast() {
            guard !n.isLeaf else { throw corruptTree() }
            n = try n.childAt(frame.index)
        }
        guard n.isLeaf else { throw corruptTree() }
        return n
    }

    private func corruptTree() -> WitchboltError {
        WitchboltError(.corrupted, "the tree of the bucket rooted at page \(bucket.header.root) is malformed (empty branch, cycle, or depth over \(Self.maxDepth))")
    }
}
