// Licensed under the Apache License, Version 2.0.
//
// A bucket's materialised nodes by page id (bbolt: Bucket.nodes, a Go map). An open-addressing
// table with linear probing, specialised to page ids: Swift's Dictionary hashes every key
// with SipHash, and this lookup runs on every level of every put's descent, where hashing
// cost about 6% of a sequential load. Page id 0 is a valid key (an inline bucket's root
// node) and has a slot of its own, so 0 can mark an empty slot. The table does not own its
// nodes: the bucket keeps every node of the transaction alive (`Bucket.liveNodes`), so the
// table stores unmanaged references and a lookup costs no reference counting.

struct NodeTable {
    private var ids: [PageID] = []
    private var nodes: [Unmanaged<Node>?] = []
    private var zero: Unmanaged<Node>?
    private var mask = 0
    /// The number of nodes in the table.
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    /// The node of page `id`, unretained (the bucket keeps it alive).
    @inline(__always)
    func ref(_ id: PageID) -> Unmanaged<Node>? {
        if id == 0 { return zero }
        guard !ids.isEmpty else { return nil }
        var i = Self.home(id, mask)
        while true {
            let k = ids[i]
            if k == id { return nodes[i] }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// The node of page `id`; assigning nil removes it. The node must be one the bucket keeps
    /// alive (every node is, from its creation to the end of the transaction).
    subscript(id: PageID) -> Node? {
        @inline(__always) get { ref(id)?.takeUnretainedValue() }
        set {
            let value = newValue.map { Unmanaged.passUnretained($0) }
            if id == 0 {
                count += (value != nil ? 1 : 0) - (zero != nil ? 1 : 0)
                zero = value
            } else if let value {
                insert(id, value)
            } else {
                remove(id)
            }
        }
    }

    /// The page ids in the table, in no particular order.
    var keys: [PageID] {
        var result: [PageID] = []
        result.reserveCapacity(count)
        if zero != nil { result.append(0) }
        for k in ids where k != 0 { result.append(k) }
        return result
    }

    /// Calls `body` with every node in the table, in no particular order.
    func forEach(_ body: (Node) -> Void) {
        if let zero { body(zero.takeUnretainedValue()) }
        for (k, n) in zip(ids, nodes) where k != 0 { body(n!.takeUnretainedValue()) }
    }

    // MARK: Probing

    /// A slot from the id's bits, spread by Fibonacci hashing.
    @inline(__always)
    private static func home(_ id: PageID, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    private mutating func insert(_ id: PageID, _ node: Unmanaged<Node>) {
        // Keep the table at most half full, so probes stay short.
        if (count + 1) * 2 > ids.count { grow() }
        var i = Self.home(id, mask)
        while true {
            let k = ids[i]
            if k == id { nodes[i] = node; return }
            if k == 0 {
                ids[i] = id
                nodes[i] = node
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    private mutating func remove(_ id: PageID) {
        guard !ids.isEmpty else { return }
        var i = Self.home(id, mask)
        while ids[i] != id {
            if ids[i] == 0 { return }
            i = (i + 1) & mask
        }
        count -= 1
        // Shift later entries of the same probe run back, so no probe meets a hole too early.
        var j = i
        while true {
            j = (j + 1) & mask
            let k = ids[j]
            if k == 0 { break }
            let h = Self.home(k, mask)
            // The entry at j may move to i only if its home is not cyclically within (i, j].
            let movable = i <= j ? (h <= i || h > j) : (h <= i && h > j)
            if movable {
                ids[i] = k
                nodes[i] = nodes[j]
                i = j
            }
        }
        ids[i] = 0
        nodes[i] = nil
    }

    private mutating func grow() {
        let capacity = max(16, ids.count * 2)
        let oldIDs = ids, oldNodes = nodes
        ids = [PageID](repeating: 0, count: capacity)
        nodes = [Unmanaged<Node>?](repeating: nil, count: capacity)
        mask = capacity - 1
        count = zero != nil ? 1 : 0
        for (k, n) in zip(oldIDs, oldNodes) where k != 0 { insert(k, n!) }
    }
}
