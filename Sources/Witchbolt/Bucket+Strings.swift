// Licensed under the Apache License, Version 2.0.
//
// Conveniences for UTF-8 string names, keys and values; the byte-array forms are the API.

extension Tx {
    /// The top-level bucket named `name` (UTF-8), or nil.
    public func bucket(_ name: String) throws -> Bucket? { try bucket(Array(name.utf8)) }
    /// Creates a top-level bucket named `name` (UTF-8).
    @discardableResult
    public func createBucket(_ name: String) throws -> Bucket { try createBucket(Array(name.utf8)) }
    /// Creates a top-level bucket named `name` (UTF-8), or returns the existing one.
    @discardableResult
    public func createBucketIfNotExists(_ name: String) throws -> Bucket { try createBucketIfNotExists(Array(name.utf8)) }
    /// Deletes the top-level bucket named `name` (UTF-8).
    public func deleteBucket(_ name: String) throws { try deleteBucket(Array(name.utf8)) }
}

extension Bucket {
    /// The nested bucket named `name` (UTF-8), or nil.
    public func bucket(_ name: String) throws -> Bucket? { try bucket(Array(name.utf8)) }
    /// Creates a nested bucket named `name` (UTF-8).
    @discardableResult
    public func createBucket(_ name: String) throws -> Bucket { try createBucket(Array(name.utf8)) }
    /// Creates a nested bucket named `name` (UTF-8), or returns the existing one.
    @discardableResult
    public func createBucketIfNotExists(_ name: String) throws -> Bucket { try createBucketIfNotExists(Array(name.utf8)) }
    /// Deletes the nested bucket named `name` (UTF-8).
    public func deleteBucket(_ name: String) throws { try deleteBucket(Array(name.utf8)) }
    /// The value of `key` (UTF-8) as a UTF-8 string, or nil.
    public func get(_ key: String) throws -> String? { try get(Array(key.utf8)).map { String(decoding: $0, as: UTF8.self) } }
    /// Sets `key` to `value`, both UTF-8.
    public func put(_ key: String, _ value: String) throws { try put(Array(key.utf8), Array(value.utf8)) }
    /// Sets `key` (UTF-8) to `value`.
    public func put(_ key: String, _ value: [UInt8]) throws { try put(Array(key.utf8), value) }
    /// Removes `key` (UTF-8).
    public func delete(_ key: String) throws { try delete(Array(key.utf8)) }
}
