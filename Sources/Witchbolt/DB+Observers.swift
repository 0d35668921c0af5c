// Licensed under the Apache License, Version 2.0. Port of witchbolt's page-flush observer
// plumbing (db.go), made exact: observers are called with the writer lock still held, so they
// see commits one at a time and in txid order, and the frames include the meta page.

import Logging

extension DB {
    /// Registers an observer; it sees every commit from the next one on.
    public func register(_ observer: any PageFlushObserver) {
        stateLock.withLock { state.observers.append(observer) }
    }

    /// Removes an observer registered earlier (the first registration of that object).
    public func unregister(_ observer: any PageFlushObserver) {
        stateLock.withLock {
            if let i = state.observers.firstIndex(where: { $0 === observer }) { state.observers.remove(at: i) }
        }
    }

    /// Runs each registration's start step; the first observers also receive a new file's
    /// initial pages.
    func startObservers() throws {
        for registration in options.pageFlushObservers {
            let observer = try registration.start(self)
            if let observer {
                register(observer)
                if let frames = pendingInitialFrames {
                    let info = PageFlushInfo(
                        txID: 1, parentTxID: 0, path: path, pageSize: pageSize, highWaterMark: 4,
                        timestampMillis: WallClock.nowMillis(),
                        frames: frames.map { PageFrame(id: $0.id, overflow: $0.overflow, data: $0.bytes) },
                        isInitialization: true)
                    deliver(info, to: observer)
                }
            }
            let close = registration.close
            stateLock.withLock {
                state.closers.append { [weak self] in
                    if let observer, let self { self.unregister(observer) }
                    try close?()
                }
            }
        }
        pendingInitialFrames = nil
    }

    /// Hands a commit's frames to every observer (from the commit, writer lock held); with
    /// none, their buffers go back to the page pool (an observer may keep its frames, so
    /// theirs are never reused).
    func notifyObservers(_ tx: Tx, frames: [PageBuffer], metaPage: PageBuffer) {
        let observers = stateLock.withLock { state.observers }
        guard !observers.isEmpty else {
            pagePool.recycle(frames)
            pagePool.recycle([metaPage])
            return
        }
        var all = frames.map { PageFrame(id: $0.id, overflow: $0.overflow, data: $0.bytes) }
        all.append(PageFrame(id: metaPage.id, overflow: 0, data: metaPage.bytes))
        let info = PageFlushInfo(
            txID: tx.meta.txid, parentTxID: tx.meta.txid - 1, path: path, pageSize: pageSize,
            highWaterMark: tx.meta.pgid, timestampMillis: WallClock.nowMillis(), frames: all)
        for observer in observers { deliver(info, to: observer) }
    }

    private func deliver(_ info: PageFlushInfo, to observer: any PageFlushObserver) {
        do {
            try observer.didFlush(info)
        } catch {
            // The commit is already durable: an observer error is logged, never undoes it.
            logger.error("page flush observer error", metadata: ["txid": "\(info.txID)", "error": "\(error)"])
        }
    }
}
