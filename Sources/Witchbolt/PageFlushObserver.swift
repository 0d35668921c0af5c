// Licensed under the Apache License, Version 2.0. Port of witchbolt's pageflush.go, made exact.
//
// The seam replication plugs into. For every committed read-write transaction the engine
// calls each registered observer once, in txid order, after the meta page is written (and
// synced, unless no-sync) and before the writer lock is released, with every page the
// commit wrote, in write order: the dirty pages with their overflow, the freelist pages, and
// last the meta page. Applying the frames of txid N to a byte copy of the file at N-1 gives
// the file at N, byte for byte, over pages `[0, highWaterMark)`.

/// One page (with its overflow pages) exactly as a commit wrote it to the file.
public struct PageFrame: Sendable, Equatable {
    /// The id of the first page the frame covers.
    public var id: UInt64
    /// The number of additional contiguous pages the frame covers.
    public var overflow: UInt32
    /// The bytes written at `id * pageSize`, `(overflow + 1) * pageSize` of them.
    public var data: [UInt8]

    /// Creates a frame.
    public init(id: UInt64, overflow: UInt32, data: [UInt8]) {
        self.id = id
        self.overflow = overflow
        self.data = data
    }
}

/// What one committed read-write transaction wrote.
public struct PageFlushInfo: Sendable {
    /// The transaction id the commit made durable.
    public var txID: UInt64
    /// The transaction id the commit built upon (`txID - 1`).
    public var parentTxID: UInt64
    /// The database file's path.
    public var path: String
    /// The database's page size in bytes.
    public var pageSize: Int
    /// The number of pages in use after the commit (the meta page's `pgid`).
    public var highWaterMark: UInt64
    /// The wall-clock time of the commit, in milliseconds since the Unix epoch.
    public var timestampMillis: Int64
    /// Every page the commit wrote, in write order; the meta page is last.
    public var frames: [PageFrame]
    /// True for the frames of a brand-new file (its four initial pages), delivered once.
    public var isInitialization: Bool

    /// Creates a flush description.
    public init(
        txID: UInt64, parentTxID: UInt64, path: String, pageSize: Int, highWaterMark: UInt64,
        timestampMillis: Int64, frames: [PageFrame], isInitialization: Bool = false
    ) {
        self.txID = txID
        self.parentTxID = parentTxID
        self.path = path
        self.pageSize = pageSize
        self.highWaterMark = highWaterMark
        self.timestampMillis = timestampMillis
        self.frames = frames
        self.isInitialization = isInitialization
    }
}

/// Receives the exact frames of every committed read-write transaction.
///
/// The engine calls ``didFlush(_:)`` on the committing thread while it still holds the writer
/// lock, so calls arrive one at a time and in txid order. An observer must return quickly: it
/// hands the frames to a queue of its own. A thrown error never undoes the commit (it is
/// already durable); it is logged.
public protocol PageFlushObserver: AnyObject, Sendable {
    /// Called once per committed read-write transaction, in txid order.
    func didFlush(_ info: PageFlushInfo) throws
}

/// A page-flush observer's lifecycle, as given in ``DB/Options/pageFlushObservers``.
///
/// 1. `prepare` runs with the database path before the file is opened, locked or created
///    (restore-on-open lives here).
/// 2. `start` runs with the opened database and returns the observer to register (or nil).
/// 3. `close` runs when the database closes, after the observer is unregistered.
public struct PageFlushObserverRegistration: Sendable {
    /// Runs before the database file is opened, locked or created.
    public var prepare: (@Sendable (_ path: String) throws -> Void)?
    /// Runs with the opened database; returns the observer to register.
    public var start: @Sendable (_ db: DB) throws -> (any PageFlushObserver)?
    /// Runs when the database closes.
    public var close: (@Sendable () throws -> Void)?

    /// Creates a registration from its three steps.
    public init(
        prepare: (@Sendable (_ path: String) throws -> Void)? = nil,
        start: @escaping @Sendable (_ db: DB) throws -> (any PageFlushObserver)?,
        close: (@Sendable () throws -> Void)? = nil
    ) {
        self.prepare = prepare
        self.start = start
        self.close = close
    }

    /// A registration of an already-built observer.
    public init(observer: any PageFlushObserver) {
        self.init(start: { _ in observer })
    }
}
