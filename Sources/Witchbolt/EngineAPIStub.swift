// TEMPORARY (reading calls throw: a corrupt page is an error, never a crash): the engine's public API surface, declared so that other targets compile against
// it while the engine is written. Replaced file by file by the real engine; nothing here runs.

public enum FreelistType: String, Sendable, CaseIterable { case array, hashmap }

public final class DB: Sendable {
    public struct Options: Sendable {
        public var timeout: Duration? = nil
        public var readOnly = false
        public var noSync = false
        public var noGrowSync = false
        public var noFreelistSync = false
        public var freelistType: FreelistType = .array
        public var initialMmapSize = 0
        public var maxSize = 0
        public var pageSize = 0
        public var pageFlushObservers: [PageFlushObserverRegistration] = []
        public var maxBatchSize = 1000
        public var maxBatchDelay: Duration = .milliseconds(10)
        public init() {}
    }
    public static func open(path: String, options: Options = Options()) throws -> DB { preconditionFailure("engine not yet merged") }
    public var path: String { preconditionFailure() }
    public var pageSize: Int { preconditionFailure() }
    public var isReadOnly: Bool { preconditionFailure() }
    public func close() throws { preconditionFailure() }
    public func view<R>(_ body: (Tx) throws -> R) throws -> R { preconditionFailure() }
    public func update<R>(_ body: (Tx) throws -> R) throws -> R { preconditionFailure() }
    public func batch(_ body: @escaping @Sendable (Tx) throws -> Void) throws { preconditionFailure() }
    public func begin(writable: Bool) throws -> Tx { preconditionFailure() }
    public func sync() throws { preconditionFailure() }
    public func register(_ observer: any PageFlushObserver) { preconditionFailure() }
    public func unregister(_ observer: any PageFlushObserver) { preconditionFailure() }
}

public final class Tx {
    public var id: UInt64 { preconditionFailure() }
    public var isWritable: Bool { preconditionFailure() }
    public var pageSize: Int { preconditionFailure() }
    public var highWaterMark: UInt64 { preconditionFailure() }
    public var size: Int64 { preconditionFailure() }
    public var db: DB { preconditionFailure() }
    public func bucket(_ name: [UInt8]) throws -> Bucket? { preconditionFailure() }
    public func createBucket(_ name: [UInt8]) throws -> Bucket { preconditionFailure() }
    public func createBucketIfNotExists(_ name: [UInt8]) throws -> Bucket { preconditionFailure() }
    public func deleteBucket(_ name: [UInt8]) throws { preconditionFailure() }
    public func forEach(_ body: ([UInt8], Bucket) throws -> Void) throws { preconditionFailure() }
    public func cursor() -> Cursor { preconditionFailure() }
    public func commit() throws { preconditionFailure() }
    public func rollback() { preconditionFailure() }
    public func onCommit(_ body: @escaping () -> Void) { preconditionFailure() }
    public func check() -> [String] { preconditionFailure() }
    /// Streams a consistent copy of the database file as this transaction sees it.
    public func write(to sink: ([UInt8]) throws -> Void) throws -> Int64 { preconditionFailure() }
    public func copyFile(to path: String) throws { preconditionFailure() }
}

public final class Bucket {
    public var sequence: UInt64 { preconditionFailure() }
    public var fillPercent: Double { get { preconditionFailure() } set { } }
    public func get(_ key: [UInt8]) throws -> [UInt8]? { preconditionFailure() }
    public func put(_ key: [UInt8], _ value: [UInt8]) throws { preconditionFailure() }
    public func delete(_ key: [UInt8]) throws { preconditionFailure() }
    public func bucket(_ name: [UInt8]) throws -> Bucket? { preconditionFailure() }
    public func createBucket(_ name: [UInt8]) throws -> Bucket { preconditionFailure() }
    public func createBucketIfNotExists(_ name: [UInt8]) throws -> Bucket { preconditionFailure() }
    public func deleteBucket(_ name: [UInt8]) throws { preconditionFailure() }
    public func setSequence(_ value: UInt64) throws { preconditionFailure() }
    public func nextSequence() throws -> UInt64 { preconditionFailure() }
    public func forEach(_ body: ([UInt8], [UInt8]?) throws -> Void) throws { preconditionFailure() }
    public func cursor() -> Cursor { preconditionFailure() }
}

public final class Cursor {
    public func first() throws -> (key: [UInt8], value: [UInt8]?)? { preconditionFailure() }
    public func last() throws -> (key: [UInt8], value: [UInt8]?)? { preconditionFailure() }
    public func next() throws -> (key: [UInt8], value: [UInt8]?)? { preconditionFailure() }
    public func prev() throws -> (key: [UInt8], value: [UInt8]?)? { preconditionFailure() }
    public func seek(_ key: [UInt8]) throws -> (key: [UInt8], value: [UInt8]?)? { preconditionFailure() }
    public func delete() throws { preconditionFailure() }
}
