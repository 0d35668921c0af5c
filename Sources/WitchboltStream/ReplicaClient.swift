// Licensed under the Apache License, Version 2.0. After Litestream's ReplicaClient.
//
// The one protocol every replica backend implements: a flat object store of keys relative to
// the replica's root ("generations/GEN/snapshots/TXID.snapshot"...). Everything above it
// (generations, snapshots, segments, retention, restore) is written once, in terms of these
// calls, and every backend passes the same conformance suite against a real server.
//
// The calls are synchronous and may block on the network: the stream calls them from its own
// uploader and restore threads, never from the commit path or a Swift concurrency thread.

/// Where the bytes of an object to write come from.
public enum ObjectSource: Sendable {
    /// Bytes in memory.
    case bytes([UInt8])
    /// A local file, streamed from disk (large snapshots).
    case file(path: String)
}

/// An object on a replica.
public struct ObjectInfo: Sendable, Equatable, Hashable {
    /// The key relative to the replica's root, with `/` separators.
    public var key: String
    /// The size in bytes.
    public var size: Int64

    /// Creates an object description.
    public init(key: String, size: Int64) {
        self.key = key
        self.size = size
    }
}

/// A replica's storage: a flat namespace of immutable objects.
///
/// Contract, checked by the conformance suite for every backend:
/// - `write` is atomic: a reader sees the whole object or nothing, never a part.
///   Writing a key that exists replaces it (or, on write-once backends, succeeds when the
///   existing object has the same size and content).
/// - `read` of a missing key throws `StreamError` with code `.notFound`.
/// - `read(key:range:)` returns exactly the bytes in `range`, clamped to the object's end.
/// - `list(prefix:)` returns every object whose key starts with `prefix`, sorted by key, however
///   many there are (paging is the client's business), without reading their bodies.
/// - `delete(keys:)` deletes the keys given; missing keys are not an error.
/// - Transient failures throw `StreamError` with `isTransient == true`; the caller retries.
public protocol ReplicaClient: AnyObject, Sendable {
    /// A short, credential-free description for logs and status, e.g. `s3://bucket/prefix`.
    var description: String { get }
    /// The backend's name: `file`, `s3`, `sftp` or `nats`.
    var kind: String { get }

    /// Writes an object atomically.
    func write(key: String, from source: ObjectSource) throws
    /// Reads a whole object.
    func read(key: String) throws -> [UInt8]
    /// Reads the bytes of `range` of an object.
    func read(key: String, range: Range<Int64>) throws -> [UInt8]
    /// Streams a whole object to `sink` in chunks (for objects too large to hold in memory).
    func read(key: String, into sink: ([UInt8]) throws -> Void) throws
    /// Lists the objects whose keys start with `prefix`, sorted by key.
    func list(prefix: String) throws -> [ObjectInfo]
    /// Deletes objects; missing ones are ignored.
    func delete(keys: [String]) throws
    /// Releases connections; the client may be used again afterwards (it reconnects).
    func close()
}

extension ReplicaClient {
    /// Default streaming read: one whole read, handed over in one chunk.
    public func read(key: String, into sink: ([UInt8]) throws -> Void) throws {
        try sink(try read(key: key))
    }

    /// Default: nothing to release.
    public func close() {}
}

/// A replica's configuration: what the stream and restore need to build its client.
///
/// Each backend has one (`FileReplicaConfig`, `S3ReplicaConfig`, `SFTPReplicaConfig`,
/// `NATSReplicaConfig`), built in code or from a replica URL.
public protocol ReplicaConfig: Sendable {
    /// A short, credential-free description, e.g. `s3://bucket/prefix`.
    var description: String { get }
    /// Builds a client; it connects lazily or here, and reports bad configuration by throwing.
    func makeClient() throws -> any ReplicaClient
}
