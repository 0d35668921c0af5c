// Nested buckets on LMDB, for the differential tests. LMDB has one flat, sorted key space
// per database, so a bucket becomes a key prefix:
//
//   prefix(path) = [depth] + for each name in path: UInt16 big-endian length + name bytes
//
// and an entry `key` of the bucket at `path` is the LMDB key prefix(path) + key, whose value
// is a tag byte (0: a value follows; 1: a nested bucket, its 8-byte sequence follows).
// The prefixes are prefix-free between different buckets, so a bucket's entries are exactly
// the LMDB keys that start with its prefix, in the same (memcmp) order as bbolt's keys.
// The error rules are bbolt's, derived from what LMDB holds, not from the reference model.

import Witchbolt
import WitchboltTestSupport

/// The bbolt bucket API over one LMDB transaction.
struct LMDBBuckets {
    let txn: LMDBTransaction

    static func prefix(_ path: [[UInt8]]) -> [UInt8] {
        var p: [UInt8] = [UInt8(path.count)]
        for name in path { p += [UInt8(name.count >> 8), UInt8(name.count & 0xFF)] + name }
        return p
    }

    enum Entry: Equatable {
        case value([UInt8])
        case bucket(sequence: UInt64)
    }

    static func decode(_ raw: [UInt8]) -> Entry {
        if raw.first == 1 {
            var s: UInt64 = 0
            for b in raw.dropFirst().prefix(8) { s = s << 8 | UInt64(b) }
            return .bucket(sequence: s)
        }
        return .value(Array(raw.dropFirst()))
    }

    static func encode(_ e: Entry) -> [UInt8] {
        switch e {
        case let .value(v): return [0] + v
        case let .bucket(s): return [1] + (0..<8).map { UInt8(truncatingIfNeeded: s >> (56 - 8 * $0)) }
        }
    }

    func entry(_ path: [[UInt8]], _ key: [UInt8]) throws -> Entry? {
        try txn.get(Self.prefix(path) + key).map(Self.decode)
    }

    /// Whether the bucket at `path` exists (the root always does).
    func exists(_ path: [[UInt8]]) throws -> Bool {
        guard let last = path.last else { return true }
        guard case .bucket = try entry(Array(path.dropLast()), last) else { return false }
        return true
    }

    /// bbolt's Get: the value, nil for a missing key or a nested bucket.
    func get(_ path: [[UInt8]], _ key: [UInt8]) throws -> [UInt8]? {
        if case let .value(v) = try entry(path, key) { return v }
        return nil
    }

    /// Applies a write operation; returns bbolt's error code for it, or nil.
    func apply(_ op: ModelOp) throws -> WitchboltError.Code? {
        let path = op.path
        guard try exists(path) else { return .bucketNotFound }
        let p = Self.prefix(path)
        switch op {
        case let .put(_, key, value):
            if path.isEmpty { return .incompatibleValue }
            if key.isEmpty { return .keyRequired }
            if key.count > 32768 { return .keyTooLarge }
            if case .bucket = try entry(path, key) { return .incompatibleValue }
            try txn.put(p + key, Self.encode(.value(value)))
        case let .delete(_, key):
            if case .bucket = try entry(path, key) { return .incompatibleValue }
            try txn.delete(p + key)
        case let .createBucket(_, name), let .createBucketIfNotExists(_, name):
            if name.isEmpty { return .bucketNameRequired }
            if name.count > 32768 { return .keyTooLarge }
            switch try entry(path, name) {
            case .value: return .incompatibleValue
            case .bucket:
                if case .createBucket = op { return .bucketExists }
            case nil: try txn.put(p + name, Self.encode(.bucket(sequence: 0)))
            }
        case let .deleteBucket(_, name):
            switch try entry(path, name) {
            case .value: return .incompatibleValue
            case nil: return .bucketNotFound
            case .bucket: try deleteTree(path + [name]); try txn.delete(p + name)
            }
        case .nextSequence:
            if path.isEmpty { return .incompatibleValue }
            let parent = Array(path.dropLast())
            guard case let .bucket(s) = try entry(parent, path.last!) else { return .bucketNotFound }
            try txn.put(Self.prefix(parent) + path.last!, Self.encode(.bucket(sequence: s + 1)))
        }
        return nil
    }

    /// Deletes every entry of the bucket at `path` and of its nested buckets.
    func deleteTree(_ path: [[UInt8]]) throws {
        for (key, e) in try entries(path) {
            if case .bucket = e { try deleteTree(path + [key]) }
            try txn.delete(Self.prefix(path) + key)
        }
    }

    /// The bucket's entries in key order.
    func entries(_ path: [[UInt8]]) throws -> [(key: [UInt8], entry: Entry)] {
        let p = Self.prefix(path)
        let c = try txn.cursor()
        var out: [(key: [UInt8], entry: Entry)] = []
        var item = try c.seek(p)
        while let (k, v) = item, k.starts(with: p) {
            out.append((Array(k.dropFirst(p.count)), Self.decode(v)))
            item = try c.next()
        }
        return out
    }

    /// The whole store as a model.
    func load(_ path: [[UInt8]] = []) throws -> ModelBucket {
        var m = ModelBucket()
        for (key, e) in try entries(path) {
            switch e {
            case let .value(v): m.values[key] = v
            case let .bucket(s):
                var child = try load(path + [key])
                child.sequence = s
                m.buckets[key] = child
            }
        }
        return m
    }

    /// A cursor confined to the bucket at `path`: moves return nil outside it.
    func cursor(_ path: [[UInt8]]) throws -> BucketCursor { BucketCursor(prefix: Self.prefix(path), cursor: try txn.cursor()) }

    struct BucketCursor {
        let prefix: [UInt8]
        let cursor: LMDBCursor

        private func strip(_ item: (key: [UInt8], value: [UInt8])?) -> (key: [UInt8], value: [UInt8]?)? {
            guard let item, item.key.starts(with: prefix) else { return nil }
            let value: [UInt8]? = item.value.first == 1 ? nil : Array(item.value.dropFirst())
            return (Array(item.key.dropFirst(prefix.count)), value)
        }

        func seek(_ key: [UInt8]) throws -> (key: [UInt8], value: [UInt8]?)? { strip(try cursor.seek(prefix + key)) }
        func first() throws -> (key: [UInt8], value: [UInt8]?)? { try seek([]) }
        func next() throws -> (key: [UInt8], value: [UInt8]?)? { strip(try cursor.next()) }
        func prev() throws -> (key: [UInt8], value: [UInt8]?)? { strip(try cursor.prev()) }
        func last() throws -> (key: [UInt8], value: [UInt8]?)? {
            // The first key past every key of this prefix: the prefix with its last byte raised
            // (prefixes end in a name byte or a length byte, never all 0xFF in these tests).
            var end = prefix
            while let b = end.last, b == 0xFF { end.removeLast() }
            if !end.isEmpty { end[end.count - 1] += 1 }
            if !end.isEmpty, try cursor.seek(end) != nil {
                return strip(try cursor.prev())
            }
            return strip(try cursor.last())
        }
    }
}
