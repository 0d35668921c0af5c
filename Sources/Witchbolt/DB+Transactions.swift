// Licensed under the Apache License, Version 2.0. Port of bbolt's db.go (Begin, View, Update,
// beginTx, beginRWTx, removeTx, freePages).

extension DB {
    /// Runs `body` in a read-only transaction.
    ///
    /// ```swift
    /// let value = try db.view { tx in try tx.bucket("users")?.get("alice") }
    /// ```
    ///
    /// - Important: the `Tx` is valid only during `body`.
    /// - Throws: `.databaseNotOpen`, or what `body` throws.
    public func view<R>(_ body: (Tx) throws -> R) throws -> R {
        let tx = try begin(writable: false)
        tx.isManaged = true
        defer {
            tx.isManaged = false
            tx.rollbackUnchecked()
        }
        return try body(tx)
    }

    /// Runs `body` in a read-write transaction, committed when `body` returns and rolled back
    /// when it throws.
    ///
    /// ```swift
    /// try db.update { tx in
    ///     try tx.createBucketIfNotExists("users").put("alice", "admin")
    /// }
    /// ```
    ///
    /// - Important: the `Tx` is valid only during `body`. Calls block while another write
    ///   transaction runs; from Swift concurrency, call from a dedicated thread.
    /// - Throws: `.databaseReadOnly`, `.poisoned`, `.databaseNotOpen`, what `body` throws, or
    ///   the commit's errors.
    public func update<R>(_ body: (Tx) throws -> R) throws -> R {
        let tx = try begin(writable: true)
        tx.isManaged = true
        let result: R
        do {
            result = try body(tx)
        } catch {
            tx.isManaged = false
            tx.rollbackUnchecked()
            throw error
        }
        tx.isManaged = false
        try tx.commitUnchecked()
        return result
    }

    /// Begins a transaction that the caller ends with `commit()` or `rollback()`.
    ///
    /// A write transaction holds the writer lock until it ends.
    /// - Throws: `.databaseReadOnly`, `.poisoned`, `.databaseNotOpen`.
    public func begin(writable: Bool) throws -> Tx {
        if writable {
            guard !options.readOnly else { throw WitchboltError(.databaseReadOnly) }
            writerLock.lock()
            do {
                return try beginWriter()
            } catch {
                writerLock.unlock()
                throw error
            }
        }
        return try beginReader()
    }

    private func beginReader() throws -> Tx {
        // Read the meta page and register the reader in one critical section: a writer that
        // snapshots the readers in between would otherwise free pages this snapshot uses
        // (bbolt holds metalock across both for the same reason).
        let (map, meta) = try stateLock.withLock { () throws -> (MemoryMap, Meta) in
            guard state.isOpen else { throw WitchboltError(.databaseNotOpen) }
            let meta = try activeMeta(map: state.map)
            state.readers[meta.txid, default: 0] += 1
            state.openTxCount += 1
            state.txCount += 1
            return (state.map, meta)
        }
        return Tx(db: self, meta: meta, map: map, writable: false)
    }

    private func beginWriter() throws -> Tx {
        let (map, readers) = try stateLock.withLock { () throws -> (MemoryMap, [TxID]) in
            guard state.isOpen else { throw WitchboltError(.databaseNotOpen) }
            if let poisoned = state.poisoned { throw poisoned }
            return (state.map, state.readers.keys.sorted())
        }
        let meta = try activeMeta()
        let tx = Tx(db: self, meta: meta, map: map, writable: true)
        releasePendingPages(openReaders: readers)
        return tx
    }

    /// Frees the pending pages no open reader can see (bbolt: db.freePages).
    private func releasePendingPages(openReaders: [TxID]) {
        guard let freelist else { return }
        var minID = openReaders.first ?? TxID.max
        if minID > 0 { freelist.release(upTo: minID - 1) }
        for reader in openReaders {
            if reader > 0 { freelist.releaseRange(begin: minID, end: reader - 1) }
            minID = reader + 1
        }
        freelist.releaseRange(begin: minID, end: TxID.max)
    }

    /// Called by a transaction as it ends.
    func transactionEnded(_ tx: Tx) {
        if tx.isWritable {
            writerLock.unlock()
        } else {
            stateLock.withLock {
                let id = tx.meta.txid
                if let n = state.readers[id] { state.readers[id] = n > 1 ? n - 1 : nil }
                state.openTxCount -= 1
            }
        }
    }

    /// Undoes a write transaction's effect on the free list (bbolt: Tx.rollback).
    func discardWrites(of tx: Tx) {
        guard let freelist else { return }
        freelist.rollback(txid: tx.meta.txid)
        // Reload the free list as the last durable meta page has it.
        do {
            let meta = try activeMeta()
            if meta.freelist == PageLayout.noFreelist {
                freelist.load(try reachableFreePages(meta: meta))
            } else {
                freelist.reload(try freelistIDs(at: meta.freelist, meta: meta))
            }
        } catch {
            poison(error)
        }
    }

    /// The database's counters.
    public var stats: Stats {
        let (txCount, openTxCount) = stateLock.withLock { (state.txCount, state.openTxCount) }
        return writerLock.withLock {
            let free = freelist?.freeCount ?? 0
            let pending = freelist?.pendingCount ?? 0
            let inUse = PageBuffer.freelistSize(count: free + pending)
            return Stats(freePageCount: free, pendingPageCount: pending, freeAllocationBytes: (free + pending) * pageSize,
                         freelistInUseBytes: inUse, txCount: txCount, openTxCount: openTxCount)
        }
    }

    /// Counters of a database (bbolt: Stats).
    public struct Stats: Sendable, Equatable {
        /// Free pages in the free list.
        public var freePageCount: Int
        /// Pages freed by transactions that open readers may still see.
        public var pendingPageCount: Int
        /// Bytes in free and pending pages.
        public var freeAllocationBytes: Int
        /// Bytes the free list itself takes on disk.
        public var freelistInUseBytes: Int
        /// Read transactions started.
        public var txCount: Int
        /// Read transactions open now.
        public var openTxCount: Int
    }
}
