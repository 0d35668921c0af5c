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
    /// One slot: a page id (0: empty) and its node. Ids and nodes share one array, so a
    /// table costs one allocation, not two.
    private struct Slot {
        var id: PageID
        var node: Unmanaged<Node>?
    }

    private var slots: [Slot] = []
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
        guard !slots.isEmpty else { return nil }
        var i = Self.home(id, mask)
        while true {
            let k = slots[i].id
            if k == id { return slots[i].node }
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
        for slot in slots where slot.id != 0 { result.append(slot.id) }
        return result
    }

    /// Calls `body` with every node in the table, in no particular order.
    func forEach(_ body: (Node) -> Void) {
        if let zero { body(zero.takeUnretainedValue()) }
        for slot in slots where slot.id != 0 { body(slot.node!.takeUnretainedValue()) }
    }

    // MARK: Probing

    /// A slot from the id's bits, spread by Fibonacci hashing.
    @inline(__always)
    private static func home(_ id: PageID, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    private mutating func insert(_ id: PageID, _ node: Unmanaged<Node>) {
        // Keep the table at most half full, so probes stay short.
        if (count + 1) * 2 > slots.count { grow() }
        var i = Self.home(id, mask)
        while true {
            let k = slots[i].id
            if k == id { slots[i].node = node; return }
            if k == 0 {
                slots[i] = Slot(id: id, node: node)
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    private mutating func remove(_ id: PageID) {
        guard !slots.isEmpty else { return }
        var i = Self.home(id, mask)
        while slots[i].id != id {
            if slots[i].id == 0 { return }
            i = (i + 1) & mask
        }
        count -= 1
        // Shift later entries of the same probe run back, so no probe meets a hole too early.
        var j = i
        while true {
            j = (j + 1) & mask
            let k = slots[j].id
            if k == 0 { break }
            let h = Self.home(k, mask)
            // The entry at j may move to i only if its home is not cyclically within (i, j].
            let movable = i <= j ? (h <= i || h > j) : (h <= i && h > j)
            if movable {
                slots[i] = slots[j]
                i = j
            }
        }
        slots[i] = Slot(id: 0, node: nil)
    }

    private mutating func grow() {
        let capacity = max(16, slots.count * 2)
        let old = slots
        slots = [Slot](repeating: Slot(id: 0, node: nil), count: capacity)
        mask = capacity - 1
        count = zero != nil ? 1 : 0
        for slot in old where slot.id != 0 { insert(slot.id, slot.node!) }
    }
}
