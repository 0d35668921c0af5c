// Licensed under the Apache License, Version 2.0. Port of bbolt's node.go (read, write, put, del).
//
// A node is the in-memory, writable form of a branch or leaf page, materialised only for the
// pages a write transaction changes. Its elements are views, not copies: the keys and values
// of a page it was read from stay in the memory map (the transaction holds its map, and no
// page it can read is rewritten before it ends), and those the transaction puts live in its
// `ByteArena`. An element is therefore plain data: moving, splitting and dropping nodes
// costs no reference counting and no allocation per key.

/// One element of a node: a key with its value (leaf) or child page (branch).
///
/// The views point into the transaction's memory map, an inline bucket's page copy, or the
/// transaction's arena, all of which outlive the node.
struct Inode {
    var flags: UInt32
    var pgid: PageID
    var key: UnsafeRawBufferPointer
    var value: UnsafeRawBufferPointer
}

/// The in-memory form of a branch or leaf page.
final class Node {
    // unowned(unsafe): a bucket outlives its nodes (both live for one transaction).
    unowned(unsafe) let bucket: Bucket
    var isLeaf: Bool
    var unbalanced = false
    var spilled = false
    /// The node's first key when it was read or last spilled: its key in the parent.
    var key = UnsafeRawBufferPointer(start: nil, count: 0)
    var pgid: PageID = 0
    // unowned(unsafe): the bucket keeps every node of the transaction alive (`liveNodes`)
    // until it ends. A weak reference would put every parent on Swift's slow, side-table
    // reference counting path, which cost a fifth of a sequential load.
    unowned(unsafe) var parent: Node?
    // @exclusivity(unchecked): a node lives in one transaction, used by one thread, and no
    // access to these arrays overlaps another.
    @exclusivity(unchecked) var children: [Node] = []
    @exclusivity(unchecked) var inodes: [Inode] = []
    /// The key and value bytes of `inodes`, kept up to date by every change to them, so
    /// that sizing a node at commit does not walk its elements again (debug builds check it
    /// against a recount; `write` traps rather than write past its page).
    var dataSize = 0
    /// True while every change to the node has appended an element after its last key: a
    /// sequential load, whose split fills pages (see Node+Spill.swift).
    var appendOnly = true

    init(bucket: Bucket, isLeaf: Bool, parent: Node? = nil) {
        self.bucket = bucket
        self.isLeaf = isLeaf
        self.parent = parent
        // Room for a small commit's path (leaf, branches) at once.
        if bucket.liveNodes.capacity == 0 { bucket.liveNodes.reserveCapacity(4) }
        bucket.liveNodes.append(self)
    }

    /// The top-level node of this node's tree.
    var root: Node {
        var n = self
        while let p = n.parent { n = p }
        return n
    }

    /// The fewest inodes a node may hold before it is merged.
    var minKeys: Int { isLeaf ? 1 : 2 }

    var elementSize: Int { isLeaf ? PageLayout.leafElementSize : PageLayout.branchElementSize }

    /// The size of the page this node writes.
    var size: Int {
        assert(dataSize == Self.dataSize(of: inodes[...]), "node \(pgid): kept data size \(dataSize) differs from its elements'")
        return PageLayout.headerSize + elementSize * inodes.count + dataSize
    }

    /// Whether the node's page is smaller than `limit`.
    func sizeLessThan(_ limit: Int) -> Bool { size < limit }

    /// The key and value bytes of `elements`.
    static func dataSize(of elements: ArraySlice<Inode>) -> Int {
        var total = 0
        for inode in elements { total += inode.key.count + inode.value.count }
        return total
    }

    // MARK: Reading and writing pages

    /// Fills the node from a page (bbolt: node.read). The elements are views of the page,
    /// which lives in the transaction's map or its bucket's inline copy: nothing is copied.
    func read(_ page: PageRef) {
        pgid = page.id
        isLeaf = page.isLeaf
        let n = page.count
        inodes.removeAll(keepingCapacity: true)
        inodes.reserveCapacity(n + 1)
        var total = 0
        if isLeaf {
            for i in 0..<n {
                let (flags, key, value) = page.leafElement(i)
                inodes.append(Inode(flags: flags, pgid: 0, key: key, value: value))
                total += key.count + value.count
            }
        } else {
            for i in 0..<n {
                let key = page.branchKey(i)
                inodes.append(Inode(flags: 0, pgid: page.branchPageID(i), key: key, value: Self.empty))
                total += key.count
            }
        }
        dataSize = total
        key = inodes.first?.key ?? Self.empty
    }

    /// The empty view, for branch values and absent keys.
    static var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    /// Writes the node's elements into the page at `p`, whose header is zeroed (bbolt:
    /// node.write); returns the number of bytes written from the page's start. Traps
    /// rather than write past `capacity` bytes.
    ///
    /// Keys and values read from one page lie back to back in the map, in element order, as
    /// they will in the new page; such runs are copied with one `memcpy` each instead of two
    /// per element (a leaf changed by one put is then two or three copies).
    @discardableResult
    func write(to p: UnsafeMutableRawPointer, capacity: Int) -> Int {
        precondition(inodes.count < 0xFFFF, "node has \(inodes.count) elements, more than a page can count")
        precondition(size <= capacity, "node \(pgid) of \(size) bytes written into \(capacity)")
        p.storeBytes(of: isLeaf ? PageLayout.leafFlag : PageLayout.branchFlag, toByteOffset: 8, as: UInt16.self)
        p.storeBytes(of: UInt16(inodes.count), toByteOffset: 10, as: UInt16.self)
        let e = elementSize
        var off = PageLayout.headerSize + e * inodes.count
        // The run of source bytes not yet copied, and where in the page it goes.
        var runSource: UnsafeRawPointer?
        var runLength = 0
        var runDestination = off
        @inline(__always) func copy(_ bytes: UnsafeRawBufferPointer) {
            guard bytes.count > 0 else { return }
            // The kept size decided the capacity; never trust it with the page's bounds.
            precondition(off + bytes.count <= capacity, "node \(pgid) overruns its \(capacity)-byte page")
            let source = bytes.baseAddress!
            if let start = runSource, start + runLength == source {
                runLength += bytes.count
            } else {
                if let start = runSource { (p + runDestination).copyMemory(from: start, byteCount: runLength) }
                runSource = source
                runLength = bytes.count
                runDestination = off
            }
            off += bytes.count
        }
        for (i, inode) in inodes.enumerated() {
            let elem = PageLayout.headerSize + i * e
            if isLeaf {
                p.storeBytes(of: inode.flags, toByteOffset: elem, as: UInt32.self)
                p.storeBytes(of: UInt32(off - elem), toByteOffset: elem + 4, as: UInt32.self)
                p.storeBytes(of: UInt32(inode.key.count), toByteOffset: elem + 8, as: UInt32.self)
                p.storeBytes(of: UInt32(inode.value.count), toByteOffset: elem + 12, as: UInt32.self)
            } else {
                p.storeBytes(of: UInt32(off - elem), toByteOffset: elem, as: UInt32.self)
                p.storeBytes(of: UInt32(inode.key.count), toByteOffset: elem + 4, as: UInt32.self)
                p.storeBytes(of: inode.pgid, toByteOffset: elem + 8, as: UInt64.self)
            }
            copy(inode.key)
            copy(inode.value)
        }
        if let start = runSource { (p + runDestination).copyMemory(from: start, byteCount: runLength) }
        return off
    }

    // MARK: Search and edit

    /// The index of the first inode whose key is at or after `key`, and whether it is equal.
    @inline(__always)
    func search(_ key: UnsafeRawBufferPointer) -> (index: Int, exact: Bool) {
        var low = 0, high = inodes.count
        while low < high {
            let mid = (low + high) >> 1
            let c = compareBytes(inodes[mid].key, key)
            if c < 0 { low = mid + 1 } else if c > 0 { high = mid } else { return (mid, true) }
        }
        return (low, false)
    }

    /// Inserts or replaces an element (bbolt: node.put). The views must outlive the
    /// transaction's nodes: map memory, or copies in the transaction's arena.
    func put(oldKey: UnsafeRawBufferPointer, newKey: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, pgid: PageID, flags: UInt32) {
        precondition(!newKey.isEmpty, "put: zero-length new key")
        let (index, exact) = search(oldKey)
        let inode = Inode(flags: flags, pgid: pgid, key: newKey, value: value)
        if exact {
            dataSize -= inodes[index].key.count + inodes[index].value.count
            inodes[index] = inode
            appendOnly = false
        } else if index == inodes.count {
            inodes.append(inode)
        } else {
            appendOnly = false
            inodes.insert(inode, at: index)
        }
        dataSize += newKey.count + value.count
    }

    /// Inserts `inode` at `index` (found by a search), or replaces the element there.
    @inline(__always)
    func insert(_ inode: Inode, at index: Int, replacing: Bool) {
        if replacing {
            dataSize -= inodes[index].key.count + inodes[index].value.count
            inodes[index] = inode
            appendOnly = false
        } else if index == inodes.count {
            inodes.append(inode)
        } else {
            appendOnly = false
            inodes.insert(inode, at: index)
        }
        dataSize += inode.key.count + inode.value.count
    }

    /// Removes the element with `key`, if present (bbolt: node.del).
    func delete(_ key: UnsafeRawBufferPointer) {
        let (index, exact) = search(key)
        guard exact else { return }
        let removed = inodes.remove(at: index)
        dataSize -= removed.key.count + removed.value.count
        unbalanced = true
        appendOnly = false
    }

    /// The child node at `index` of this branch node.
    func childAt(_ index: Int) throws -> Node {
        precondition(!isLeaf, "childAt on a leaf node")
        return try bucket.node(inodes[index].pgid, parent: self)
    }

    /// The index of `child` among this node's inodes.
    func childIndex(_ child: Node) -> Int {
        search(child.key).index
    }

    func removeChild(_ target: Node) {
        if let i = children.firstIndex(where: { $0 === target }) { children.remove(at: i) }
    }

    /// Frees this node's page, if it has one (bbolt: node.free).
    func free() throws {
        if pgid != 0 {
            try bucket.tx.freePage(pgid)
            pgid = 0
        }
    }
}
