// Licensed under the Apache License, Version 2.0. Port of bbolt's Options (db.go).

import Logging

extension DB {
    /// How a database is opened. The defaults are bbolt's.
    public struct Options: Sendable {
        /// How long to wait for the file lock held by another process; nil waits forever.
        public var timeout: Duration?
        /// Opens the file read-only with a shared lock; it is never created or written.
        public var readOnly = false
        /// Skips fdatasync after commits. Fast, and a crash may lose or corrupt recent commits.
        public var noSync = false
        /// Skips the sync after the file grows.
        public var noGrowSync = false
        /// Does not store the free list: commits are cheaper, and opening rebuilds it by
        /// walking the tree. Opening such a file without this option writes a free list.
        public var noFreelistSync = false
        /// The in-memory free list strategy; both write the same format.
        public var freelistType: FreelistType = .array
        /// The address space to map up front, in bytes. The default maps 64 GiB (or twice the
        /// file), so the file grows without remapping and readers never block the writer.
        public var initialMmapSize = 0
        /// The largest the file may grow, in bytes; 0 for no limit. A commit past it throws
        /// `.maxSizeReached`.
        public var maxSize = 0
        /// The page size of a new database, a power of two from 1024 to 65536; 0 for 4096.
        /// An existing database keeps its own.
        public var pageSize = 0
        /// The page-flush observers to register; see ``PageFlushObserverRegistration``.
        public var pageFlushObservers: [PageFlushObserverRegistration] = []
        /// The most calls `batch` runs in one transaction.
        public var maxBatchSize = 1000
        /// How long `batch` waits for more calls before committing.
        public var maxBatchDelay: Duration = .milliseconds(10)
        /// Where the engine logs (observer errors, freelist rebuilds).
        public var logger = Logger(label: "witchbolt")
        #if WITCHBOLT_TEST_HOOKS
        /// Fault injection for tests (debug builds only).
        @_spi(Testing) public var testHooks = TestHooks()
        #endif

        /// The default options.
        public init() {}
    }
}
