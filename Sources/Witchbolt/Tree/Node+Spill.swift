// Licensed under the Apache License, Version 2.0. Port of bbolt's node.go (split, spill, rebalance).
//
// At commit, nodes that shrank are merged with a sibling (rebalance), and every materialised
// node is split into page-sized pieces and written to newly allocated pages (spill), children
// before parents, so that a parent records its children's new page ids.
//
// One departure from bbolt: when the elements past the split point were all appended in this
// transaction in key order (a sequential load), the split fills the left page up to the page
// size instead of the fill percent. bbolt leaves such pages half full, which doubles the file
// and halves scan speed after sequential inserts; the file format is unchanged.

extension Node {
    /// Splits the node into page-sized nodes; the first is `self` (bbolt: node.split).
    ///
    /// bbolt splits two ways at a time, copying the remainder each time; here the cut points
    /// are found in one pass and each element is moved once, which matters when a
    /// transaction appends thousands of keys to one leaf.
    func split(pageSize: Int) -> [Node] {
        // Ignore the split if the node fits in one page or has too few elements for two.
        if inodes.count <= PageLayout.minKeysPerPage * 2 || sizeLessThan(pageSize) { return [self] }

        // The threshold at which a page is full: the fill percent, or all of it for appends.
        let fill = min(max(bucket.fillPercent, PageLayout.minFillPercent), PageLayout.maxFillPercent)
        let threshold = Int(Double(pageSize) * (appendOnly ? PageLayout.maxFillPercent : fill))

        // Find the cut points, as repeated bbolt splitTwo calls would.
        var cuts: [Int] = []
        var start = 0
        let e = elementSize
        while inodes.count - start > PageLayout.minKeysPerPage * 2 {
            // The rest fits in one page: no more cuts.
            var restSize = PageLayout.headerSize
            var fits = true
            for i in start..<inodes.count {
                restSize += e + inodes[i].key.count + inodes[i].value.count
                if restSize >= pageSize { fits = false; break }
            }
            if fits { break }
            // bbolt's splitIndex: at least minKeysPerPage each side, up to the threshold.
            var size = PageLayout.headerSize
            var index = start
            for i in start..<(inodes.count - PageLayout.minKeysPerPage) {
                index = i
                let bytes = e + inodes[i].key.count + inodes[i].value.count
                if i - start >= PageLayout.minKeysPerPage && size + bytes > threshold { break }
                size += bytes
            }
            cuts.append(index)
            start = index
        }
        guard !cuts.isEmpty else { return [self] }

        // Create a parent if the node is the root, then move each piece out once.
        if parent == nil {
            let p = Node(bucket: bucket, isLeaf: false)
            p.children = [self]
            parent = p
        }
        var nodes: [Node] = [self]
        for (n, cut) in cuts.enumerated() {
            let end = n + 1 < cuts.count ? cuts[n + 1] : inodes.count
            let next = Node(bucket: bucket, isLeaf: isLeaf, parent: parent)
            next.inodes = Array(inodes[cut..<end])
            next.dataSize = Self.dataSize(of: inodes[cut..<end])
            parent!.children.append(next)
            nodes.append(next)
            bucket.tx.stats.splitCount += 1
        }
        dataSize -= Self.dataSize(of: inodes[cuts[0]...])
        inodes.removeSubrange(cuts[0]...)
        return nodes
    }

    /// Writes the node (and its children first) to newly allocated pages (bbolt: node.spill).
    func spill() throws {
        if spilled { return }
        let tx = bucket.tx

        // Spill child nodes first, in key order. A child's spill may add siblings, so the
        // count is re-read.
        sortChildren()
        var i = 0
        while i < children.count {
            try children[i].spill()
            i += 1
        }
        // The child list is only used for spill tracking.
        children = []

        // Split the node into page-sized pieces; the first is self. Most nodes do not split:
        // they are written without building a one-element array of pieces.
        if inodes.count <= PageLayout.minKeysPerPage * 2 || sizeLessThan(tx.pageSize) {
            try writePiece(self, tx: tx)
        } else {
            for node in split(pageSize: tx.pageSize) { try writePiece(node, tx: tx) }
        }

        // If the root split and created a new root, spill that too.
        if let parent, parent.pgid == 0 {
            children = []
            try parent.spill()
        }
    }

    /// Writes one piece of a spilled node to new pages and records it in its parent.
    private func writePiece(_ node: Node, tx: Tx) throws {
        // Free the node's old page, if it is not new.
        if node.pgid > 0 {
            try tx.freePage(node.pgid)
            node.pgid = 0
        }
        // Allocate contiguous space for the node and write it.
        let count = (node.size + tx.pageSize - 1) / tx.pageSize
        node.pgid = try tx.allocatePages(count) { p in node.write(to: p, capacity: count * tx.pageSize) }
        node.spilled = true

        // Record the node's new page in its parent.
        if let parent = node.parent {
            guard !node.inodes.isEmpty, !node.inodes[0].key.isEmpty else {
                throw WitchboltError(.corrupted, "a page of bucket rooted at \(bucket.header.root) holds an empty key")
            }
            let oldKey = node.key.isEmpty ? node.inodes[0].key : node.key
            parent.put(oldKey: oldKey, newKey: node.inodes[0].key, value: Node.empty, pgid: node.pgid, flags: 0)
            node.key = node.inodes[0].key
        }
        tx.stats.spillCount += 1
    }

    /// Sorts `children` by first key (bbolt sorts them the same way before spilling). Each
    /// child's key is read once, with its first eight bytes as an integer to compare first:
    /// a random-insert commit sorts about a thousand children a level.
    private func sortChildren() {
        guard children.count > 1 else { return }
        var keyed = children.map { child in
            let key = child.inodes.first?.key ?? Node.empty
            return (prefix: Self.prefix(key), key: key, node: child)
        }
        keyed.sort { a, b in a.prefix != b.prefix ? a.prefix < b.prefix : compareBytes(a.key, b.key) < 0 }
        for i in keyed.indices { children[i] = keyed[i].node }
    }

    /// The first eight bytes of `key` as a big-endian integer, zero-padded: ordered as the
    /// keys are whenever two prefixes differ.
    @inline(__always)
    private static func prefix(_ key: UnsafeRawBufferPointer) -> UInt64 {
        if key.count >= 8 { return key.loadUnaligned(as: UInt64.self).bigEndian }
        var value: UInt64 = 0
        for (i, byte) in key.enumerated() { value |= UInt64(byte) << (56 - 8 * i) }
        return value
    }

    /// Merges the node with a sibling if it has become too small (bbolt: node.rebalance).
    func rebalance() throws {
        if !unbalanced { return }
        unbalanced = false
        bucket.tx.stats.rebalanceCount += 1

        // Ignore if the node is above the threshold (25%) and has enough keys.
        let threshold = bucket.tx.pageSize / 4
        if size > threshold && inodes.count > minKeys { return }

        // The root node: collapse a branch root with a single child.
        guard let parent else {
            if !isLeaf && inodes.count == 1 {
                let child = try bucket.node(inodes[0].pgid, parent: self)
                isLeaf = child.isLeaf
                inodes = child.inodes
                dataSize = child.dataSize
                children = child.children
                // Reparent all child nodes being moved.
                for inode in inodes {
                    if let grandchild = bucket.nodes[inode.pgid] { grandchild.parent = self }
                }
                child.parent = nil
                bucket.nodes[child.pgid] = nil
                try child.free()
            }
            return
        }

        // A node with no keys is removed.
        if inodes.isEmpty {
            parent.delete(key)
            parent.removeChild(self)
            bucket.nodes[pgid] = nil
            try free()
            try parent.rebalance()
            return
        }
        precondition(parent.inodes.count > 1, "parent must have at least 2 children")

        // Merge with the right sibling if this is the first child, else with the left one.
        let index = parent.childIndex(self)
        let left: Node, right: Node
        if index == 0 {
            left = self
            right = try parent.childAt(1)
        } else {
            left = try parent.childAt(index - 1)
            right = self
        }

        // Reparent the right node's children to the left node.
        for inode in right.inodes {
            if let child = bucket.nodes[inode.pgid] {
                child.parent?.removeChild(child)
                child.parent = left
                left.children.append(child)
            }
        }

        // Move the right node's inodes to the left node and remove the right node.
        left.inodes += right.inodes
        left.dataSize += right.dataSize
        parent.delete(right.key)
        parent.removeChild(right)
        bucket.nodes[right.pgid] = nil
        try right.free()

        // One of the parent's children was removed, so rebalance the parent.
        try parent.rebalance()
    }
}
