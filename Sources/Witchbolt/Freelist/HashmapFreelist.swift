// Licensed under the Apache License, Version 2.0. Port of bbolt's internal/freelist/hashmap.go.
//
// Free ids as spans of contiguous pages, indexed three ways: by start, by end, and by size.
// Allocation takes a span of exactly the size asked for when there is one, else splits the
// smallest larger span; freeing merges a page with its neighbours. Allocation no longer scans
// the whole list, which matters in large, fragmented files.

final class HashmapFreelist: Freelist {
    private var forward: [PageID: UInt64] = [:]
    private var backward: [PageID: UInt64] = [:]
    private var bySize: [UInt64: Set<PageID>] = [:]
    private var freePages = 0

    override var freeCount: Int { freePages }

    override func freeIDs() -> [PageID] {
        var ids: [PageID] = []
        ids.reserveCapacity(freePages)
        for start in forward.keys.sorted() {
            let size = forward[start]!
            for i in 0..<size { ids.append(start + i) }
        }
        return ids
    }

    override func setFreeIDs(_ ids: [PageID]) {
        forward = [:]; backward = [:]; bySize = [:]; freePages = 0
        var i = 0
        while i < ids.count {
            var j = i
            while j + 1 < ids.count && ids[j + 1] == ids[j] + 1 { j += 1 }
            addSpan(start: ids[i], size: UInt64(j - i + 1))
            i = j + 1
        }
    }

    override func allocateRun(_ count: Int) -> PageID {
        guard count > 0 else { return 0 }
        let n = UInt64(count)
        if let starts = bySize[n], let start = starts.first {
            removeSpan(start: start, size: n)
            return start
        }
        // The smallest span larger than asked for, split.
        guard let size = bySize.keys.filter({ $0 > n }).min(), let start = bySize[size]?.first else { return 0 }
        removeSpan(start: start, size: size)
        addSpan(start: start + n, size: size - n)
        return start
    }

    override func mergeSpans(_ ids: [PageID]) {
        for id in ids {
            cache.insert(id)
            var start = id
            var size: UInt64 = 1
            if let previousSize = backward[id - 1] {
                let previousStart = id - previousSize
                removeSpan(start: previousStart, size: previousSize)
                start = previousStart
                size += previousSize
            }
            if let nextSize = forward[id + 1] {
                removeSpan(start: id + 1, size: nextSize)
                size += nextSize
            }
            addSpan(start: start, size: size)
        }
    }

    private func addSpan(start: PageID, size: UInt64) {
        forward[start] = size
        backward[start + size - 1] = size
        bySize[size, default: []].insert(start)
        freePages += Int(size)
    }

    private func removeSpan(start: PageID, size: UInt64) {
        forward[start] = nil
        backward[start + size - 1] = nil
        bySize[size]?.remove(start)
        if bySize[size]?.isEmpty == true { bySize[size] = nil }
        freePages -= Int(size)
    }
}
