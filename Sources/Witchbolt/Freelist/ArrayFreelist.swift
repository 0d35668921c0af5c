// Licensed under the Apache License, Version 2.0. Port of bbolt's internal/freelist/array.go.
//
// Free ids in one sorted array. Allocation scans for the first run of contiguous ids long
// enough (lowest id first), which keeps files compact and allocation deterministic.

final class ArrayFreelist: Freelist {
    /// The free ids, sorted, from `head` on: single-page allocations take the lowest id by
    /// moving `head`, not by shifting the array (which made each allocation linear).
    private var ids: [PageID] = []
    private var head = 0

    override var freeCount: Int { ids.count - head }
    override func freeIDs() -> [PageID] { Array(ids[head...]) }
    override func appendFreeIDs(to all: inout [PageID]) { all += ids[head...] }
    override func setFreeIDs(_ ids: [PageID]) {
        self.ids = ids
        head = 0
    }

    /// Drops the ids before `head`, before any change that is not a single-page allocation.
    private func compact() {
        if head > 0 {
            ids.removeFirst(head)
            head = 0
        }
    }

    /// How many of the lowest free ids a commit's reservation looks through for its run: in a
    /// large, fragmented free list a full scan every commit would cost more than it saves.
    static let reserveScanLimit = 1024

    override func allocateRun(_ count: Int) -> PageID { allocateRun(count, scanning: Int.max) }

    override func reserveRun(_ count: Int) -> PageID { allocateRun(count, scanning: Self.reserveScanLimit) }

    /// First fit among the lowest `limit` free ids.
    private func allocateRun(_ count: Int, scanning limit: Int) -> PageID {
        guard count > 0, head < ids.count else { return 0 }
        // Fast path: one page, the lowest id.
        if count == 1 {
            head += 1
            return ids[head - 1]
        }
        compact()
        var initial: PageID = 0
        var previous: PageID = 0
        for i in ids.indices.prefix(limit) {
            let id = ids[i]
            // A gap starts a new run.
            if previous == 0 || id - previous != 1 { initial = id }
            if id - initial + 1 == PageID(count) {
                ids.removeSubrange((i - count + 1)...i)
                return initial
            }
            previous = id
        }
        return 0
    }

    override func mergeSpans(_ freed: [PageID]) {
        compact()
        // The callers usually pass the ids sorted already: then no sorted copy is made.
        let sortedFreed = zip(freed, freed.dropFirst()).allSatisfy({ $0 < $1 }) ? freed : freed.sorted()
        for id in sortedFreed { cache.insert(id) }
        if ids.isEmpty { ids = sortedFreed; return }
        if let last = ids.last, let first = sortedFreed.first, last < first {
            ids += sortedFreed
            return
        }
        var merged: [PageID] = []
        merged.reserveCapacity(ids.count + sortedFreed.count)
        var i = 0, j = 0
        while i < ids.count && j < sortedFreed.count {
            if ids[i] < sortedFreed[j] { merged.append(ids[i]); i += 1 } else { merged.append(sortedFreed[j]); j += 1 }
        }
        merged += ids[i...]
        merged += sortedFreed[j...]
        ids = merged
    }
}
