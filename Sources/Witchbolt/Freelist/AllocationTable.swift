// Licensed under the Apache License, Version 2.0.
//
// The transaction that allocated each page allocated since the free list was last loaded
// (bbolt: freelist.allocs, a map). When such a page is freed, the free list records who
// allocated it, so that a page both allocated and freed between two open readers can be
// released early (releaseRange). Kept as one transaction id per page id, indexed directly:
// eight bytes per page of the file at most (2 MiB per GiB of 4 KiB pages), and no hashing
// on the commit path. 0 means "not allocated since the load".

struct AllocationTable {
    private var byPage: [TxID] = []

    /// The allocating transaction of `id`, or 0.
    @inline(__always)
    subscript(id: PageID) -> TxID {
        let i = Int(id)
        return i < byPage.count ? byPage[i] : 0
    }

    /// Records that `txid` allocated `id`.
    @inline(__always)
    mutating func record(_ id: PageID, by txid: TxID) {
        let i = Int(id)
        if i >= byPage.count {
            byPage += repeatElement(0, count: max(i + 1, byPage.count * 2) - byPage.count)
        }
        byPage[i] = txid
    }

    /// Forgets `id` and returns its allocating transaction, or 0.
    @inline(__always)
    mutating func remove(_ id: PageID) -> TxID {
        let i = Int(id)
        guard i < byPage.count else { return 0 }
        let txid = byPage[i]
        byPage[i] = 0
        return txid
    }

    /// Forgets every page `txid` allocated (its commit failed or it rolled back).
    mutating func removeAll(allocatedBy txid: TxID) {
        for i in byPage.indices where byPage[i] == txid { byPage[i] = 0 }
    }

    /// Forgets everything.
    mutating func removeAll() {
        byPage = []
    }
}
