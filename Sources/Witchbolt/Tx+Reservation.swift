// Licensed under the Apache License, Version 2.0.
//
// One contiguous run of pages for a small commit. bbolt allocates each spilled node its own
// pages, lowest free id first, so a one-put commit writes its leaf, its branches, the root
// bucket's leaf and the free list to pages scattered over the file. The fdatasync that makes
// them durable then carries several separate writes; on this machine's disk five scattered
// pages take about 20 µs longer to sync than five contiguous ones (docs/PERFORMANCE.md).
//
// So before the spill, a commit estimates the pages it will allocate from the nodes it
// materialised and, when that is small, takes one free run of that length from the free
// list, or from the end of the file while few pages are free. The spill and the free list
// take their pages from the run in order; what is left of a free run is given back to the
// free list before the free list is written, and a run at the end is claimed only as far as
// it is used (every page below the high-water mark stays one some commit wrote). Otherwise,
// or when the estimate was short, pages are allocated one node at a time as before. The run
// only ever holds pages no tree references (free, or new at the end), so the commit protocol
// and its crash safety are unchanged, and the file format is the same.

extension Tx {
    /// The most pages a commit reserves as one run; larger commits allocate node by node (a
    /// long free run is rare, and taking one would leave the lowest free pages unused).
    static let maxReservedPages = 16

    /// A commit takes its run from the end of the file only while fewer pages than this are
    /// free, so the file holds at most this many more free pages than bbolt's allocation
    /// would leave (random one-put commits free scattered pages; those are used node by node
    /// once this many have gathered).
    static let maxFreePagesToGrow = 64

    /// Reserves one contiguous free run for the spill and the free list, when the commit is
    /// small and such a run is free. Called after rebalancing, before spilling.
    func reserveContiguousRun() throws {
        guard reservation.isEmpty, reservedAtEnd == 0, let freelist = database.freelist else { return }
        guard var pages = try spillEstimate(root, limit: Self.maxReservedPages), pages > 0 else { return }
        if !database.options.noFreelistSync {
            pages += PageBuffer.freelistSize(count: freelist.count) / pageSize + 1
        }
        guard pages > 1, pages <= Self.maxReservedPages else { return }
        let start = freelist.reserve(count: pages)
        if start != 0 {
            reservation = start..<(start + PageID(pages))
        } else if freelist.freeCount < Self.maxFreePagesToGrow {
            // No free run is long enough and few pages are free: the run starts at the end of
            // the file. Without this, a one-put commit that once fell back to scattered pages
            // would alternate between them and a run forever. The pages are claimed as they
            // are used, so every page below the high-water mark is still one a commit wrote
            // (the page-frame contract); room for all of them is made now, or not at all.
            do {
                try database.ensureCapacity(pages: meta.pgid + PageID(pages) + 1, pageSize: pageSize)
            } catch {
                return  // near the size limit: allocate node by node, from the free pages
            }
            reservedAtEnd = pages
        }
    }

    /// Takes `count` pages from the front of the reservation, or returns 0 when it holds fewer.
    func takeReserved(_ count: Int) -> PageID {
        if reservation.count >= count {
            let id = reservation.lowerBound
            reservation = (id + PageID(count))..<reservation.upperBound
            return id
        }
        if reservedAtEnd >= count {
            // The map already has room for the whole run (reserveContiguousRun).
            let id = meta.pgid
            meta.pgid += PageID(count)
            reservedAtEnd -= count
            return id
        }
        return 0
    }

    /// Gives the free pages the commit did not use back to the free list (before it is
    /// written), and forgets the rest of a run at the end of the file.
    func releaseReservation() {
        reservedAtEnd = 0
        guard !reservation.isEmpty else { return }
        database.freelist?.unreserve(reservation)
        reservation = 0..<0
    }

    /// The pages the spill of `bucket` and its open nested buckets will allocate, from the
    /// nodes they materialised; nil past `limit`. A bucket that materialised nothing but
    /// holds a changed nested bucket will materialise its path to it: one node a level.
    private func spillEstimate(_ bucket: Bucket, limit: Int) throws -> Int? {
        var pages = 0
        var nestedChanged = false
        for child in bucket.children.values {
            guard let nested = try spillEstimate(child, limit: limit - pages) else { return nil }
            pages += nested
            if child.rootNode != nil || nested > 0 { nestedChanged = true }
        }
        if bucket.rootNode != nil {
            // An inline bucket's node goes into its parent's value, not onto pages.
            if bucket !== root && bucket.isInlineable { return pages }
            // At least a page a node: a large commit stops here without sizing its nodes.
            guard pages + bucket.nodes.count <= limit else { return nil }
            bucket.nodes.forEach { node in pages += max(1, (node.size + pageSize - 1) / pageSize) }
        } else if nestedChanged && bucket.header.root != 0 {
            pages += try depth(of: bucket)
        }
        return pages > limit ? nil : pages
    }

    /// The number of levels of `bucket`'s tree (every leaf of a B+tree is as deep).
    private func depth(of bucket: Bucket) throws -> Int {
        var levels = 1
        var p = try page(bucket.header.root)
        while p.isBranch && p.count > 0 && levels < Cursor.maxDepth {
            p = try page(p.branchPageID(0))
            levels += 1
        }
        return levels
    }
}
