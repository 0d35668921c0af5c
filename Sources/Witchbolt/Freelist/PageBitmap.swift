// Licensed under the Apache License, Version 2.0.
//
// A set of page ids kept as one bit per page up to the highest id inserted. The free list
// asks "is this page already free or pending?" for every page a commit frees and updates it
// for every page it allocates; a hashed set spent more time hashing than the commit spent
// copying those pages. Ids come from pages already checked against the high-water mark, so
// the bitmap is at most one bit per page of the file (32 KiB per GiB of 4 KiB pages).

struct PageBitmap {
    private var words: [UInt64] = []
    /// The number of ids in the set.
    private(set) var count = 0

    init() {}

    /// A set holding `ids`.
    init<S: Sequence>(_ ids: S) where S.Element == PageID {
        for id in ids { insert(id) }
    }

    /// Whether `id` is in the set.
    @inline(__always)
    func contains(_ id: PageID) -> Bool {
        let w = Int(id >> 6)
        return w < words.count && words[w] & (1 << (id & 63)) != 0
    }

    /// Adds `id`; false when it was already in the set.
    @inline(__always)
    @discardableResult
    mutating func insert(_ id: PageID) -> Bool {
        let w = Int(id >> 6)
        if w >= words.count { grow(to: w + 1) }
        let bit: UInt64 = 1 << (id & 63)
        if words[w] & bit != 0 { return false }
        words[w] |= bit
        count += 1
        return true
    }

    /// Removes `id` if present.
    @inline(__always)
    mutating func remove(_ id: PageID) {
        let w = Int(id >> 6)
        guard w < words.count else { return }
        let bit: UInt64 = 1 << (id & 63)
        if words[w] & bit != 0 {
            words[w] &= ~bit
            count -= 1
        }
    }

    /// Empties the set, keeping its storage.
    mutating func removeAll() {
        for i in words.indices { words[i] = 0 }
        count = 0
    }

    /// Grows geometrically, so that inserting ids in increasing order stays linear.
    private mutating func grow(to wordCount: Int) {
        words += repeatElement(0, count: max(wordCount, words.count * 2) - words.count)
    }
}
