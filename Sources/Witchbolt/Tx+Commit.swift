// Licensed under the Apache License, Version 2.0. Port of bbolt's tx.go (Commit, write, writeMeta).
//
// The commit protocol, and the only code that orders durable writes:
//
//   rebalance -> reserve a free run (small commits) -> spill -> write freelist -> grow file ->
//   pwrite dirty pages in id order -> fdatasync -> pwrite meta page (txid % 2) -> fdatasync ->
//   page-flush observers -> release the writer lock -> on-commit handlers.
//
// Until the meta page is durable, the previous meta still describes a complete tree whose
// pages no step has touched (new pages only go to free or new page ids), so a crash at any
// point leaves the previous commit intact. A failure after the first write poisons the
// handle: the file may hold a meta page whose durability is unknown, so the handle refuses
// writes until the database is reopened and the meta pages are read afresh.

extension Tx {
    /// Writes the transaction's changes to disk and ends it.
    ///
    /// - Throws: `.txClosed`, `.txNotWritable`, `.maxSizeReached`, `.io` (the handle is then
    ///   poisoned), `.corrupted`.
    /// - Precondition: not called inside `view`, `update` or `batch`.
    public func commit() throws {
        precondition(!isManaged, "commit inside view/update/batch is not allowed: return from the closure instead")
        try commitUnchecked()
    }

    func commitUnchecked() throws {
        guard isOpen else { throw WitchboltError(.txClosed) }
        guard isWritable else { throw WitchboltError(.txNotWritable) }
        let previousHighWaterMark = readableLimit

        // Merge nodes that shrank, then write every changed node to new pages.
        do {
            try root.rebalance()
            // A small commit takes its pages from one free run, so that they sync as one write.
            try reserveContiguousRun()
            try root.spill()
            meta.root = root.header
            try database.hit(.beforeWriteFreelist)

            // The old freelist page is freed: the commit writes a fresh one.
            if meta.freelist != PageLayout.noFreelist {
                try freePage(meta.freelist, isFreelistPage: true)
            }
            if database.options.noFreelistSync {
                releaseReservation()
                meta.freelist = PageLayout.noFreelist
            } else {
                try writeFreelist()
            }
        } catch {
            reservation = 0..<0
            reservedAtEnd = 0
            rollbackUnchecked()
            throw error
        }

        // From here on a failure may leave bytes on disk: it poisons the handle.
        do {
            // Grow the file if the high-water mark moved up.
            if meta.pgid > previousHighWaterMark {
                try database.hit(.lackOfDiskSpace)
                try database.grow(to: Int64(meta.pgid + 1) * Int64(pageSize))
            }
            let frames = try writeDirtyPages()
            let metaPage = try writeMeta()
            database.notifyObservers(self, frames: frames, metaPage: metaPage)
        } catch {
            database.poison(error)
            rollbackUnchecked()
            throw error
        }

        // Release the writer lock, then run the commit handlers.
        let handlers = commitHandlers
        close()
        for handler in handlers { handler() }
    }

    /// Allocates and fills the freelist page(s) (bbolt: commitFreelist).
    private func writeFreelist() throws {
        let freelist = database.freelist!
        // Over-estimate the size: allocating the page itself can only shrink the list, and the
        // unused part of a reserved run goes back into it.
        let count = PageBuffer.freelistSize(count: freelist.count + reservation.count) / pageSize + 1
        let id = try allocatePages(count) { _ in 0 }
        releaseReservation()
        let ids = freelist.copyAll()
        let index = dirty.count - 1
        dirty[index].writeFreelist(ids)
        #if WITCHBOLT_TEST_HOOKS
        if database.testHooks.plantedBugs.contains(.tornFreelist) {
            let half = dirty[index].bytes.count / 2
            for i in half..<dirty[index].bytes.count { dirty[index].bytes[i] = 0 }
        }
        #endif
        meta.freelist = id
    }

    /// The most page buffers one write system call carries (see `writeDirtyPages`).
    static let maxPagesPerWrite = 8

    /// Writes the dirty pages in page-id order, then syncs (bbolt: Tx.write).
    private func writeDirtyPages() throws -> [PageBuffer] {
        dirty.sort { $0.id < $1.id }
        let file = database.file
        // Contiguous pages go out in one pwritev, eight at most. On Linux's ext4 with large
        // folios (6.x), a write of N pages not yet in the page cache creates one N-page folio,
        // and every later one-page write into it walks all of its buffer heads
        // (ext4_block_write_begin). Runs of 64 made random inserts 18% slower than runs of 8;
        // one page per call cost sequential inserts 20% in system calls (docs/PERFORMANCE.md).
        var i = 0
        while i < dirty.count {
            var j = i + 1
            var end = dirty[i].id + PageID(dirty[i].overflow) + 1
            while j < dirty.count && dirty[j].id == end && j - i < Self.maxPagesPerWrite {
                end += PageID(dirty[j].overflow) + 1
                j += 1
            }
            if j - i == 1 {
                try dirty[i].bytes.withUnsafeBytes { try file.write($0, at: Int64(dirty[i].id) * Int64(pageSize)) }
            } else {
                var views: [UnsafeRawBufferPointer] = []
                views.reserveCapacity(j - i)
                try withPageViews(i..<j, &views) { try file.write($0, at: Int64(dirty[i].id) * Int64(pageSize)) }
            }
            stats.writeCount += j - i
            i = j
        }
        let pages = dirty
        dirty = []

        // Make the data pages durable before the meta page points at them.
        try database.hit(.beforeSyncDataPages)
        if !database.options.noSync && !database.hasPlantedBug(.skipDataSync) && !database.hasPlantedBug(.metaBeforeDataSync) {
            try file.sync()
        }
        return pages
    }

    /// Calls `body` with views of the dirty pages in `range`, each valid during the call
    /// (one nested access per page, so the run goes out without being copied together).
    private func withPageViews(_ range: Range<Int>, _ views: inout [UnsafeRawBufferPointer], _ body: ([UnsafeRawBufferPointer]) throws -> Void) throws {
        guard let k = range.first else { return try body(views) }
        try dirty[k].bytes.withUnsafeBytes { page in
            views.append(page)
            try withPageViews(range.dropFirst(), &views, body)
        }
    }

    /// Writes the meta page `txid % 2`, then syncs (bbolt: Tx.writeMeta).
    private func writeMeta() throws -> PageBuffer {
        // A pooled page when one is kept (the meta page of an earlier commit, usually).
        let buffer = PageBuffer(meta: meta, pageSize: pageSize, recycled: database.pagePool.take())
        try database.hit(.beforeWriteMeta)
        try database.metaLock.withLock {
            try buffer.bytes.withUnsafeBytes { try database.file.write($0, at: Int64(buffer.id) * Int64(pageSize)) }
        }
        try database.hit(.beforeSyncMetaPage)
        if database.hasPlantedBug(.metaBeforeDataSync) && !database.options.noSync {
            // Planted bug: the data pages are synced only now, after the meta page was written.
            try database.file.sync()
        }
        if !database.options.noSync { try database.file.sync() }
        return buffer
    }
}
