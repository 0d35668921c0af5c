// Licensed under the Apache License, Version 2.0. Port of bbolt's internal/freelist/shared.go.
//
// The free list tracks pages no tree references any more. A page freed by transaction T is
// "pending" until no open read transaction can still see it (every reader began after T),
// and only then free for reuse. On disk, the free list page stores the sorted union of free
// and pending ids, so that a crash never leaks pages; on load, everything it lists is free.
//
// Two strategies keep the free ids: `array` (a sorted array; first fit, lowest id) and
// `hashmap` (spans keyed by size; fast allocation in large, fragmented files). They share the
// pending bookkeeping below and write the same on-disk format.

/// Pages freed by one transaction, with the transaction that had allocated each.
struct PendingPages {
    var ids: [PageID]
    var allocatedBy: [TxID]
    var lastReleaseBegin: TxID = 0

    /// Room for a small commit's frees from the start (a one-put commit frees four to six
    /// pages), so that they do not regrow the arrays page by page.
    init() {
        ids = []
        allocatedBy = []
        ids.reserveCapacity(8)
        allocatedBy.reserveCapacity(8)
    }

    /// Records one freed page.
    @inline(__always)
    mutating func append(_ id: PageID, allocatedBy txid: TxID) {
        ids.append(id)
        allocatedBy.append(txid)
    }
}

/// The in-memory free list; subclasses keep the free ids.
class Freelist {
    // @exclusivity(unchecked): only the writer, under the writer lock, touches a free list,
    // and no access overlaps another; the dynamic checks cost 2% of a random-insert commit.

    /// Pages freed by transactions still visible to some reader, by freeing txid.
    @exclusivity(unchecked) var pending: [TxID: PendingPages] = [:]
    /// The transaction that allocated each page allocated since the last reload.
    @exclusivity(unchecked) var allocs = AllocationTable()
    /// Every free and pending id, for double-free detection.
    @exclusivity(unchecked) var cache = PageBitmap()

    // MARK: Strategy (overridden)

    /// The number of free (not pending) pages.
    var freeCount: Int { fatalError("abstract") }
    /// All free ids, sorted.
    func freeIDs() -> [PageID] { fatalError("abstract") }
    /// Appends the free ids, sorted, to `all` (without the copy `freeIDs` makes where it can).
    func appendFreeIDs(to all: inout [PageID]) { all += freeIDs() }
    /// Replaces the free ids with `ids` (sorted).
    func setFreeIDs(_ ids: [PageID]) { fatalError("abstract") }
    /// Allocates `count` contiguous pages, returning the first id, or 0 when none fit.
    func allocateRun(_ count: Int) -> PageID { fatalError("abstract") }
    /// Adds freed `ids` to the free ids.
    func mergeSpans(_ ids: [PageID]) { fatalError("abstract") }
    /// Takes `count` contiguous free pages for a commit's reserved run, or returns 0; may
    /// give up sooner than `allocateRun` (the run is an optimisation, asked for every commit).
    func reserveRun(_ count: Int) -> PageID { allocateRun(count) }

    // MARK: Shared

    /// The number of pending pages.
    var pendingCount: Int { pending.values.reduce(0) { $0 + $1.ids.count } }
    /// The number of free and pending pages: what the on-disk list holds.
    var count: Int { freeCount + pendingCount }

    /// Loads the free list from the ids a freelist page lists (bbolt: Read + Init).
    func load(_ ids: [PageID]) {
        let sorted = ids.sorted()
        pending = [:]
        allocs.removeAll()
        cache = PageBitmap(sorted)
        setFreeIDs(sorted)
    }

    /// Reloads after a failed or rolled-back commit: the on-disk ids minus what is pending.
    func reload(_ ids: [PageID]) {
        var pendingIDs = Set<PageID>()
        for p in pending.values { pendingIDs.formUnion(p.ids) }
        let free = ids.filter { !pendingIDs.contains($0) }.sorted()
        setFreeIDs(free)
        cache = PageBitmap(free)
        for id in pendingIDs { cache.insert(id) }
    }

    /// Allocates `count` contiguous pages for transaction `txid`; 0 when no run fits.
    func allocate(txid: TxID, count: Int) -> PageID {
        let id = allocateRun(count)
        if id != 0 {
            allocs.record(id, by: txid)
            for i in 0..<PageID(count) { cache.remove(id + i) }
        }
        return id
    }

    /// Takes `count` contiguous free pages out of the free ids without recording an
    /// allocation (a commit's reserved run; see `Tx+Reservation.swift`); 0 when none fit.
    func reserve(count: Int) -> PageID {
        let id = reserveRun(count)
        if id != 0 {
            for i in 0..<PageID(count) { cache.remove(id + i) }
        }
        return id
    }

    /// Records that transaction `txid` allocated the pages starting at `id` from its run.
    func recordAllocation(_ id: PageID, txid: TxID) {
        allocs.record(id, by: txid)
    }

    /// Puts reserved pages that were not used back among the free ids.
    func unreserve(_ ids: Range<PageID>) {
        mergeSpans(Array(ids))
    }

    /// Frees a page and its overflow in transaction `txid`: pending until released.
    /// - Returns: false on a double free or an attempt to free a meta page (a corrupt tree).
    @discardableResult
    func free(txid: TxID, id: PageID, overflow: UInt32, isFreelistPage: Bool = false) -> Bool {
        guard id > 1 else { return false }
        var allocatedBy = allocs.remove(id)
        if allocatedBy == 0 && isFreelistPage { allocatedBy = txid &- 1 }
        for page in id...(id + PageID(overflow)) {
            guard cache.insert(page) else { return false }
            // Appended in place: a copy of the entry would copy its arrays on every free.
            pending[txid, default: PendingPages()].append(page, allocatedBy: allocatedBy)
        }
        return true
    }

    /// Moves the pages of every pending transaction at or before `txid` to the free ids.
    func release(upTo txid: TxID) {
        // The keys first: removing entries while iterating the dictionary would copy it.
        let ready = pending.keys.filter { $0 <= txid }
        var released: [PageID] = []
        for freedBy in ready {
            guard let entry = pending.removeValue(forKey: freedBy) else { continue }
            if released.isEmpty { released = entry.ids } else { released += entry.ids }
        }
        // Sorted in place (the array is this function's alone by now), for mergeSpans.
        released.sort()
        if !released.isEmpty { mergeSpans(released) }
    }

    /// Releases pages freed in `[begin, end]` that were also allocated in it: no reader between
    /// two open read transactions can see them (bbolt: releaseRange).
    func releaseRange(begin: TxID, end: TxID) {
        guard begin <= end else { return }
        var released: [PageID] = []
        // The keys first: updating entries while iterating the dictionary would copy it.
        for freedBy in pending.keys.filter({ $0 >= begin && $0 <= end }) {
            // Out of the dictionary while it changes, so its arrays are not copied.
            guard pending[freedBy]?.lastReleaseBegin != begin, var entry = pending.removeValue(forKey: freedBy) else { continue }
            var i = 0
            while i < entry.ids.count {
                let by = entry.allocatedBy[i]
                if by >= begin && by <= end {
                    released.append(entry.ids[i])
                    entry.ids.swapAt(i, entry.ids.count - 1)
                    entry.allocatedBy.swapAt(i, entry.allocatedBy.count - 1)
                    entry.ids.removeLast()
                    entry.allocatedBy.removeLast()
                } else {
                    i += 1
                }
            }
            entry.lastReleaseBegin = begin
            if !entry.ids.isEmpty { pending[freedBy] = entry }
        }
        if !released.isEmpty { mergeSpans(released) }
    }

    /// Undoes the frees of transaction `txid` (its commit failed or it rolled back).
    func rollback(txid: TxID) {
        if let entry = pending[txid] {
            var throwAway: [PageID] = []
            for (i, id) in entry.ids.enumerated() {
                cache.remove(id)
                let by = entry.allocatedBy[i]
                if by == 0 { continue }
                if by != txid { allocs.record(id, by: by) } else { throwAway.append(id) }
            }
            pending[txid] = nil
            if !throwAway.isEmpty { mergeSpans(throwAway) }
        }
        allocs.removeAll(allocatedBy: txid)
    }

    /// Whether `id` is free or pending.
    func isFreed(_ id: PageID) -> Bool { cache.contains(id) }

    /// The sorted union of free and pending ids: what the freelist page stores.
    func copyAll() -> [PageID] {
        guard !pending.isEmpty else { return freeIDs() }
        // One allocation of the final size, then the pending ids sorted in.
        var count = freeCount
        for p in pending.values { count += p.ids.count }
        var all: [PageID] = []
        all.reserveCapacity(count)
        appendFreeIDs(to: &all)
        for p in pending.values { all += p.ids }
        all.sort()
        return all
    }

    /// Makes a free list of the given type.
    static func make(_ type: FreelistType) -> Freelist {
        switch type {
        case .array: ArrayFreelist()
        case .hashmap: HashmapFreelist()
        }
    }
}

/// The in-memory strategy of the free list; both write the same on-disk format.
public enum FreelistType: String, Sendable, CaseIterable {
    /// A sorted array of ids: first fit, lowest id first. bbolt's default.
    case array
    /// Spans of contiguous ids keyed by size: fast in large, fragmented files.
    case hashmap
}
