// Licensed under the Apache License, Version 2.0. bbolt: internal/failpoint and gofail comments.
//
// Test-only seams, compiled only with `WITCHBOLT_TEST_HOOKS` (debug builds): a fault injector
// on the database file (drop, tear or fail writes and syncs: simulated power loss), named
// failpoints at each step of a commit, and planted bugs that prove the harnesses can fail.

#if WITCHBOLT_TEST_HOOKS
/// Intercepts the database file's writes, syncs and truncations (tests only).
@_spi(Testing) public protocol FileFaultInjector: AnyObject, Sendable {
    /// Called before each pwrite; throw to fail it.
    func willWrite(offset: Int64, bytes: UnsafeRawBufferPointer, fileDescriptor fd: Int32) throws
    /// Called before each fdatasync; throw to fail it.
    func willSync(fileDescriptor fd: Int32) throws
    /// Called before each ftruncate; throw to fail it.
    func willTruncate(size: Int64, fileDescriptor fd: Int32) throws
}

extension FileFaultInjector {
    func willWrite(offset: Int64, bytes: UnsafeRawBufferPointer, file: DataFile) throws {
        try willWrite(offset: offset, bytes: bytes, fileDescriptor: file.fd)
    }
    func willSync(file: DataFile) throws { try willSync(fileDescriptor: file.fd) }
    func willTruncate(size: Int64, file: DataFile) throws { try willTruncate(size: size, fileDescriptor: file.fd) }
}

/// A named step of a commit where a test can make it fail.
@_spi(Testing) public enum Failpoint: String, Sendable, CaseIterable {
    /// After the spill, before the free list is written: the commit rolls back, nothing written.
    case beforeWriteFreelist
    /// After the dirty pages are written, before their fdatasync.
    case beforeSyncDataPages
    /// Before the meta page is written.
    case beforeWriteMeta
    /// After the meta page is written, before its fdatasync.
    case beforeSyncMetaPage
    /// When the file grows (as if the disk were full).
    case lackOfDiskSpace
    /// When the file is mapped.
    case mapError
}

/// A deliberate bug a harness must catch.
@_spi(Testing) public enum PlantedBug: String, Sendable, CaseIterable {
    /// The meta page is written before the data pages are synced.
    case metaBeforeDataSync
    /// The freelist page is written torn (its second half zeroed).
    case tornFreelist
    /// The data pages' fdatasync is skipped.
    case skipDataSync
}

/// The test hooks of one database handle.
@_spi(Testing) public struct TestHooks: Sendable {
    /// Intercepts file writes and syncs.
    public var fileFaults: (any FileFaultInjector)?
    /// Called at each named step; throw to fail the commit there.
    public var failpoint: (@Sendable (Failpoint) throws -> Void)?
    /// Bugs to plant.
    public var plantedBugs: Set<PlantedBug> = []

    public init(fileFaults: (any FileFaultInjector)? = nil, failpoint: (@Sendable (Failpoint) throws -> Void)? = nil, plantedBugs: Set<PlantedBug> = []) {
        self.fileFaults = fileFaults
        self.failpoint = failpoint
        self.plantedBugs = plantedBugs
    }
}
#endif
