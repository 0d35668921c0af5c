// Licensed under the Apache License, Version 2.0. Port of bbolt's tx_check.go.
//
// The consistency check: every page below the high-water mark is reachable from exactly one
// place or free (never both, never twice), every reachable page is a branch or leaf page
// inside the file, and keys are in order within pages and within their parents' ranges. It
// never trusts the file: a hostile page gives a problem in the list, never a crash or a hang.

extension Tx {
    /// Checks the database's consistency as this transaction sees it.
    ///
    /// - Returns: the problems found, as bbolt words them ("page 7: unreachable unfreed");
    ///   empty when the database is consistent.
    public func check() -> [String] {
        var problems: [String] = []
        func report(_ s: String) { if problems.count < 1000 { problems.append(s) } }

        // Load the free list (a read-only open has not) and look for double frees.
        var freed = Set<PageID>()
        do {
            let ids: [PageID]
            if meta.freelist == PageLayout.noFreelist {
                ids = try database.reachableFreePages(meta: meta)
            } else if isWritable, let freelist = database.freelist {
                ids = freelist.copyAll()
            } else {
                ids = try database.freelistIDs(at: meta.freelist, meta: meta)
            }
            for id in ids where !freed.insert(id).inserted { report("page \(id): already freed") }
        } catch {
            report("free list: \(error)")
        }

        // Track every reachable page, starting with the metas and the free list.
        var reachable = Set<PageID>([0, 1])
        if meta.freelist != PageLayout.noFreelist, let p = try? page(meta.freelist) {
            for i in 0...PageID(p.overflow) { reachable.insert(meta.freelist + i) }
        }
        checkBucket(root, name: "root", reachable: &reachable, freed: freed, report: report)

        // Every page below the high-water mark must be reachable or free.
        for id in PageID(0)..<meta.pgid where !reachable.contains(id) && !freed.contains(id) {
            report("page \(id): unreachable unfreed")
        }
        return problems
    }

    private func checkBucket(_ bucket: Bucket, name: String, reachable: inout Set<PageID>, freed: Set<PageID>, report: (String) -> Void) {
        if bucket.header.root != 0 {
            // A root page reached before is a second reference (a cycle of buckets in a corrupt
            // file): report it, and do not walk its nested buckets again. Walking them once
            // per reference takes exponential time when the cycle has several nested buckets.
            let seen = reachable.contains(bucket.header.root)
            checkPage(bucket.header.root, depth: 0, stack: [], lower: nil, upper: nil, bucket: bucket, reachable: &reachable, freed: freed, report: report)
            if seen { return }
        } else if let inline = bucket.inlinePage, !inline.elementsFit() {
            report("bucket \(name): inline page elements run past its value")
        }
        // Check each nested bucket.
        do {
            var names: [[UInt8]] = []
            try bucket.forEachBucket { names.append($0) }
            for childName in names {
                do {
                    if let child = try bucket.bucket(childName) {
                        checkBucket(child, name: hex(childName), reachable: &reachable, freed: freed, report: report)
                    }
                } catch {
                    report("bucket \(hex(childName)): \(error)")
                }
            }
        } catch {
            report("bucket \(name): \(error)")
        }
    }

    private func checkPage(_ id: PageID, depth: Int, stack: [PageID], lower: [UInt8]?, upper: [UInt8]?, bucket: Bucket,
                           reachable: inout Set<PageID>, freed: Set<PageID>, report: (String) -> Void) {
        guard id < meta.pgid else {
            report("page \(id): out of bounds: \(meta.pgid) (stack: \(stack))")
            return
        }
        let header = PageRef(map.base + Int(id) * pageSize, extent: pageSize)
        let overflow = PageID(header.overflow)
        // Each page is referenced once: a second reference is a problem, and not followed (cycles).
        var seenBefore = false
        for i in 0...min(overflow, meta.pgid - id - 1) {
            if !reachable.insert(id + i).inserted {
                report("page \(id + i): multiple references (stack: \(stack))")
                seenBefore = true
            }
        }
        if seenBefore { return }
        if freed.contains(id) { report("page \(id): reachable freed") }
        if header.id != id {
            report("page \(id): its header says page \(header.id) (stack: \(stack))")
            return
        }
        if overflow >= meta.pgid - id { report("page \(id): out of bounds: \(meta.pgid) (stack: \(stack))"); return }
        guard header.flags == PageLayout.branchFlag || header.flags == PageLayout.leafFlag else {
            report("page \(id): invalid type: \(header.kindName) (stack: \(stack))")
            return
        }
        let page = PageRef(header.base, extent: Int(overflow + 1) * pageSize)
        guard page.elementsFit() else {
            report("page \(id): elements run past the page (stack: \(stack))")
            return
        }
        guard depth < Cursor.maxDepth else {
            report("page \(id): tree deeper than \(Cursor.maxDepth) levels (stack: \(stack))")
            return
        }
        // Keys are strictly increasing and inside the range the parent gives.
        let n = page.storedCount
        var previous: [UInt8]? = lower
        for i in 0..<n {
            let key = Array(page.isLeaf ? page.leafKey(i) : page.branchKey(i))
            if let previous, (i == 0 ? compareBytes(previous[...], key[...]) > 0 : compareBytes(previous[...], key[...]) >= 0) {
                report("page \(id): key \(i) (\(hex(key))) is not after the previous key \(hex(previous))")
            }
            if let upper, compareBytes(key[...], upper[...]) >= 0 {
                report("page \(id): key \(hex(key)) is not before its parent's next key \(hex(upper))")
            }
            previous = key
        }
        if page.isLeaf {
            if n == 0 && depth > 0 { report("page \(id): empty leaf page below the root") }
            return
        }
        if n == 0 { report("page \(id): empty branch page"); return }
        for i in 0..<n {
            let childLower = Array(page.branchKey(i))
            let childUpper = i + 1 < n ? Array(page.branchKey(i + 1)) : upper
            checkPage(page.branchPageID(i), depth: depth + 1, stack: stack + [id], lower: childLower, upper: childUpper,
                      bucket: bucket, reachable: &reachable, freed: freed, report: report)
        }
    }

    /// Visits every page reachable from the root bucket, with its overflow (bbolt: db.freepages walk).
    func forEachReachablePage(_ body: (PageID, UInt32) throws -> Void) throws {
        var visited = Set<PageID>()
        func walkBucket(_ bucket: Bucket) throws {
            if bucket.header.root != 0 { try walkPage(bucket.header.root, depth: 0) }
            var names: [[UInt8]] = []
            try bucket.forEachBucket { names.append($0) }
            for name in names {
                if let child = try bucket.bucket(name) { try walkBucket(child) }
            }
        }
        func walkPage(_ id: PageID, depth: Int) throws {
            guard visited.insert(id).inserted else {
                throw WitchboltError(.corrupted, "page \(id) is referenced twice in the tree")
            }
            guard depth < Cursor.maxDepth else { throw WitchboltError(.corrupted, "the tree is deeper than \(Cursor.maxDepth) levels at page \(id)") }
            let p = try page(id)
            try body(id, p.overflow)
            if p.isBranch {
                for i in 0..<p.count { try walkPage(p.branchPageID(i), depth: depth + 1) }
            }
        }
        try walkBucket(root)
    }
}
