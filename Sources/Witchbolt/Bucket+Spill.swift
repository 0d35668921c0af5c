// Licensed under the Apache License, Version 2.0. Port of bbolt's bucket.go (the commit half).
//
// At commit a bucket rebalances its nodes, writes nested buckets (inline into its own node
// when they are small and have no nested buckets of their own, otherwise onto pages, whose
// header then becomes the value), and spills its own nodes.

extension Bucket {
    /// Writes nested buckets and then this bucket's nodes to dirty pages (bbolt: Bucket.spill).
    func spill() throws {
        // Spill nested buckets first, in key order so that the file layout is deterministic.
        // (One child, the common case, needs no sorted copy of the names.)
        if children.count == 1, let (name, child) = children.first {
            try spill(child, named: name)
        } else {
            for name in children.keys.sorted(by: { compareBytes($0[...], $1[...]) < 0 }) {
                try spill(children[name]!, named: name)
            }
        }

        // Spill this bucket's nodes, if any were materialised.
        guard let root = rootNode else { return }
        try root.spill()
        rootNode = root.root
        precondition(rootNode!.pgid < tx.meta.pgid, "pgid \(rootNode!.pgid) above high water mark \(tx.meta.pgid)")
        header.root = rootNode!.pgid
    }

    /// Writes the nested bucket `child` and stores its new value (inline bucket or header)
    /// under `name` in this bucket's node.
    private func spill(_ child: Bucket, named name: [UInt8]) throws {
        let value: UnsafeRawBufferPointer
        if child.isInlineable {
            // Small enough and without nested buckets: store it inline in the value.
            try child.free()
            value = tx.arena.copy(child.inlineValue())
        } else {
            try child.spill()
            value = tx.arena.copy(child.header)
        }
        // Skip a bucket that materialised no node: its value has not changed.
        if child.rootNode == nil { return }

        // Update the bucket's value in this bucket's node.
        let c = internalCursor()
        guard let (k, _, flags) = try name.withUnsafeBytes({ try c.seekRaw($0) }), compareBytes(k, name) == 0,
              flags & PageLayout.bucketLeafFlag != 0 else {
            throw WitchboltError(.corrupted, "misplaced bucket header: \(hex(name)) (keys out of order in the file?)")
        }
        let storedName = tx.arena.copy(name)
        try c.node().put(oldKey: storedName, newKey: storedName, value: value, pgid: 0, flags: PageLayout.bucketLeafFlag)
    }

    /// Whether the bucket can be stored inline: one leaf node, no nested buckets, a quarter page at most.
    var isInlineable: Bool {
        guard let n = rootNode, n.isLeaf else { return false }
        var size = PageLayout.headerSize
        let limit = tx.pageSize / 4
        for inode in n.inodes {
            size += PageLayout.leafElementSize + inode.key.count + inode.value.count
            if inode.flags & PageLayout.bucketLeafFlag != 0 || size > limit { return false }
        }
        return true
    }

    /// The bucket's value when stored inline: its header and its root node as a page.
    func inlineValue() -> [UInt8] {
        let n = rootNode!
        var value = [UInt8](repeating: 0, count: PageLayout.bucketHeaderSize + n.size)
        value.withUnsafeMutableBytes { p in
            var h = header
            h.root = 0
            h.write(to: p.baseAddress!)
            n.write(to: p.baseAddress! + PageLayout.bucketHeaderSize, capacity: p.count - PageLayout.bucketHeaderSize)
        }
        return value
    }

    /// Merges nodes that shrank, in this bucket and nested buckets (bbolt: Bucket.rebalance).
    func rebalance() throws {
        for id in nodes.keys.sorted() {
            if let n = nodes[id] { try n.rebalance() }
        }
        for name in children.keys.sorted(by: { compareBytes($0[...], $1[...]) < 0 }) {
            try children[name]!.rebalance()
        }
    }

    /// Frees every page of the bucket (bbolt: Bucket.free).
    func free() throws {
        guard header.root != 0 else { return }
        try forEachPageNode { page, node, _ in
            if let page { try tx.freePage(page.id) } else { try node!.free() }
        }
        header.root = 0
    }

    /// Visits every page or materialised node of the bucket, depth first.
    func forEachPageNode(_ body: (PageRef?, Node?, Int) throws -> Void) throws {
        if header.root == 0, let inlinePage, rootNode == nil {
            try body(inlinePage, nil, 0)
            return
        }
        try forEachPageNode(header.root, depth: 0, body)
    }

    private func forEachPageNode(_ id: PageID, depth: Int, _ body: (PageRef?, Node?, Int) throws -> Void) throws {
        guard depth < Cursor.maxDepth else { throw WitchboltError(.corrupted, "the tree under page \(header.root) is deeper than \(Cursor.maxDepth) levels (a cycle?)") }
        let (page, ref) = try pageNode(id)
        let node = ref?.takeUnretainedValue()
        try body(page, node, depth)
        if let page {
            if page.isBranch {
                for i in 0..<page.count { try forEachPageNode(page.branchPageID(i), depth: depth + 1, body) }
            }
        } else if let node, !node.isLeaf {
            for inode in node.inodes { try forEachPageNode(inode.pgid, depth: depth + 1, body) }
        }
    }
}
