// An in-memory reference model of a Witchbolt database: nested buckets of keys and values,
// with the same error rules as the engine (bbolt's sentinel errors). The proof tests and the
// fuzz targets apply each operation to the model and to the database and compare the
// outcomes, then compare whole states with `ModelBucket.load(from:)`.
//
// This file imports only Witchbolt so that the fuzz package can share it (a symlink).

import Witchbolt

/// A bucket in the model: its values, its nested buckets and its sequence.
public struct ModelBucket: Equatable, Sendable, CustomStringConvertible {
    public var values: [[UInt8]: [UInt8]] = [:]
    public var buckets: [[UInt8]: ModelBucket] = [:]
    public var sequence: UInt64 = 0

    public init() {}

    /// The number of values and buckets, counted through every level.
    public var totalCount: Int {
        values.count + buckets.count + buckets.values.reduce(0) { $0 + $1.totalCount }
    }

    /// The bucket at `path` (empty: this bucket), if it exists.
    public func bucket(at path: [[UInt8]]) -> ModelBucket? {
        var current = self
        for name in path {
            guard let next = current.buckets[name] else { return nil }
            current = next
        }
        return current
    }

    /// Changes the bucket at `path` in place; returns nil when it does not exist.
    @discardableResult
    public mutating func modify<R>(at path: ArraySlice<[UInt8]>, _ body: (inout ModelBucket) -> R) -> R? {
        guard let first = path.first else { return body(&self) }
        guard buckets[first] != nil else { return nil }
        return buckets[first]!.modify(at: path.dropFirst(), body)
    }

    /// Every bucket path in the tree, parents before children (the root is `[]`).
    public func allPaths(maxDepth: Int = 8) -> [[[UInt8]]] {
        var out: [[[UInt8]]] = [[]]
        func walk(_ b: ModelBucket, _ prefix: [[UInt8]]) {
            guard prefix.count < maxDepth else { return }
            for name in b.buckets.keys.sorted(by: ModelBucket.less) {
                out.append(prefix + [name])
                walk(b.buckets[name]!, prefix + [name])
            }
        }
        walk(self, [])
        return out
    }

    /// The entries in key order: a value, or nil for a nested bucket (as `Bucket.forEach`).
    public func sortedEntries() -> [(key: [UInt8], value: [UInt8]?)] {
        var all: [(key: [UInt8], value: [UInt8]?)] = values.map { ($0.key, $0.value) }
        all += buckets.keys.map { ($0, nil) }
        all.sort { ModelBucket.less($0.key, $1.key) }
        return all
    }

    /// Unsigned lexicographic order, as bbolt's bytes.Compare.
    public static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.lexicographicallyPrecedes(b)
    }

    public var description: String {
        func hex(_ b: [UInt8]) -> String {
            b.count <= 16 ? b.map { String($0, radix: 16) }.joined(separator: ".") : "\(b.prefix(8).map { String($0, radix: 16) }.joined(separator: "."))..(\(b.count))"
        }
        var lines: [String] = []
        func walk(_ b: ModelBucket, _ indent: String) {
            for (k, v) in b.sortedEntries() {
                if let v { lines.append("\(indent)\(hex(k)) = \(hex(v))") } else {
                    lines.append("\(indent)\(hex(k))/ seq \(b.buckets[k]!.sequence)")
                    walk(b.buckets[k]!, indent + "  ")
                }
            }
        }
        walk(self, "")
        return lines.joined(separator: "\n")
    }

    // MARK: Reading a database

    /// Reads the whole database as a model (the root holds only buckets).
    public static func load(from tx: Tx) throws -> ModelBucket {
        var root = ModelBucket()
        try tx.forEach { name, bucket in root.buckets[name] = try load(bucket) }
        return root
    }

    /// Reads one bucket, recursively.
    public static func load(_ bucket: Bucket) throws -> ModelBucket {
        var m = ModelBucket()
        m.sequence = bucket.sequence
        var names: [[UInt8]] = []
        try bucket.forEach { k, v in
            if let v { m.values[k] = v } else { names.append(k) }
        }
        for name in names {
            guard let child = try bucket.bucket(name) else {
                throw ModelMismatch("bucket \(name) is listed by forEach but bucket() finds none")
            }
            m.buckets[name] = try load(child)
        }
        return m
    }
}

/// A difference between the database and the model.
public struct ModelMismatch: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One write operation, applied the same way to a transaction and to the model.
public enum ModelOp: Equatable, Sendable, CustomStringConvertible {
    case put(path: [[UInt8]], key: [UInt8], value: [UInt8])
    case delete(path: [[UInt8]], key: [UInt8])
    case createBucket(path: [[UInt8]], name: [UInt8])
    case createBucketIfNotExists(path: [[UInt8]], name: [UInt8])
    case deleteBucket(path: [[UInt8]], name: [UInt8])
    case nextSequence(path: [[UInt8]])

    public var description: String {
        func p(_ path: [[UInt8]]) -> String { "/" + path.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/") }
        func k(_ key: [UInt8]) -> String { key.count <= 24 ? "\(key)" : "\(key.prefix(8))..(\(key.count) bytes)" }
        switch self {
        case let .put(path, key, value): return "put \(p(path)) \(k(key)) (\(value.count) bytes)"
        case let .delete(path, key): return "delete \(p(path)) \(k(key))"
        case let .createBucket(path, name): return "createBucket \(p(path)) \(k(name))"
        case let .createBucketIfNotExists(path, name): return "createBucketIfNotExists \(p(path)) \(k(name))"
        case let .deleteBucket(path, name): return "deleteBucket \(p(path)) \(k(name))"
        case let .nextSequence(path): return "nextSequence \(p(path))"
        }
    }

    /// The bucket path the operation works in.
    public var path: [[UInt8]] {
        switch self {
        case let .put(path, _, _), let .delete(path, _), let .createBucket(path, _),
             let .createBucketIfNotExists(path, _), let .deleteBucket(path, _), let .nextSequence(path):
            return path
        }
    }

    /// Applies the operation to the model; returns the error code the engine must throw, or
    /// nil for success. A failed operation leaves the model unchanged.
    public func apply(to model: inout ModelBucket) -> WitchboltError.Code? {
        let path = self.path
        let result: WitchboltError.Code?? = model.modify(at: path[...]) { b -> WitchboltError.Code? in
            switch self {
            case let .put(_, key, value):
                if path.isEmpty { return .incompatibleValue }
                if key.isEmpty { return .keyRequired }
                if key.count > 32768 { return .keyTooLarge }
                if b.buckets[key] != nil { return .incompatibleValue }
                b.values[key] = value
            case let .delete(_, key):
                if b.buckets[key] != nil { return .incompatibleValue }
                b.values[key] = nil
            case let .createBucket(_, name):
                if name.isEmpty { return .bucketNameRequired }
                if name.count > 32768 { return .keyTooLarge }
                if b.buckets[name] != nil { return .bucketExists }
                if b.values[name] != nil { return .incompatibleValue }
                b.buckets[name] = ModelBucket()
            case let .createBucketIfNotExists(_, name):
                if name.isEmpty { return .bucketNameRequired }
                if name.count > 32768 { return .keyTooLarge }
                if b.values[name] != nil { return .incompatibleValue }
                if b.buckets[name] == nil { b.buckets[name] = ModelBucket() }
            case let .deleteBucket(_, name):
                if b.values[name] != nil { return .incompatibleValue }
                if b.buckets[name] == nil { return .bucketNotFound }
                b.buckets[name] = nil
            case .nextSequence:
                if path.isEmpty { return .incompatibleValue }
                b.sequence += 1
            }
            return nil
        }
        guard let result else { return .bucketNotFound }
        return result
    }

    /// Applies the operation to a write transaction; returns the error code it threw, or nil.
    /// Errors that are not `WitchboltError` are rethrown.
    public func apply(to tx: Tx) throws -> WitchboltError.Code? {
        do {
            let path = self.path
            // Operations on the root bucket itself have no engine equivalent except bucket calls.
            if path.isEmpty {
                switch self {
                case .put, .nextSequence: return .incompatibleValue
                case let .delete(_, key):
                    // The root holds only buckets: deleting a bucket name is incompatible.
                    return try tx.bucket(key) != nil ? .incompatibleValue : nil
                case let .createBucket(_, name): _ = try tx.createBucket(name)
                case let .createBucketIfNotExists(_, name): _ = try tx.createBucketIfNotExists(name)
                case let .deleteBucket(_, name): try tx.deleteBucket(name)
                }
                return nil
            }
            var bucket = try tx.bucket(path[0])
            for name in path.dropFirst() { bucket = try bucket?.bucket(name) }
            guard let bucket else { return .bucketNotFound }
            switch self {
            case let .put(_, key, value): try bucket.put(key, value)
            case let .delete(_, key): try bucket.delete(key)
            case let .createBucket(_, name): _ = try bucket.createBucket(name)
            case let .createBucketIfNotExists(_, name): _ = try bucket.createBucketIfNotExists(name)
            case let .deleteBucket(_, name): try bucket.deleteBucket(name)
            case .nextSequence: _ = try bucket.nextSequence()
            }
            return nil
        } catch let error as WitchboltError {
            return error.code
        }
    }
}

/// Draws random operations that hit existing keys and buckets often.
public struct WorkloadGenerator: Sendable {
    /// How many distinct short keys a bucket draws from (fewer: more overwrites and deletes).
    public var keySpace: Int
    /// The largest value; values past a page become overflow pages.
    public var maxValueSize: Int
    /// The deepest bucket nesting created.
    public var maxDepth: Int

    public init(keySpace: Int = 400, maxValueSize: Int = 3000, maxDepth: Int = 3) {
        self.keySpace = keySpace
        self.maxValueSize = maxValueSize
        self.maxDepth = maxDepth
    }

    /// A key: mostly from a small space (so keys repeat), sometimes long or odd bytes.
    public func key<G: RandomNumberGenerator>(_ rng: inout G) -> [UInt8] {
        switch Int.random(in: 0..<20, using: &rng) {
        case 0: return (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 1: return [UInt8.random(in: 0...255, using: &rng)]
        default:
            let n = Int.random(in: 0..<keySpace, using: &rng)
            return Array("k\(String(n * 7919 % 100_003, radix: 36))".utf8)
        }
    }

    /// A value: mostly small, sometimes empty, sometimes larger than a page.
    public func value<G: RandomNumberGenerator>(_ rng: inout G) -> [UInt8] {
        let size: Int
        switch Int.random(in: 0..<20, using: &rng) {
        case 0: size = 0
        case 1: size = Int.random(in: 0...maxValueSize, using: &rng)
        default: size = Int.random(in: 1...64, using: &rng)
        }
        let fill = UInt8.random(in: 0...255, using: &rng)
        return (0..<size).map { UInt8(truncatingIfNeeded: Int(fill) &+ $0 &* 31) }
    }

    /// The next operation for the model's current state.
    public func next<G: RandomNumberGenerator>(model: ModelBucket, _ rng: inout G) -> ModelOp {
        let paths = model.allPaths(maxDepth: maxDepth)
        let path = paths.randomElement(using: &rng)!
        let here = model.bucket(at: path)!
        // The root holds only buckets; make sure there is somewhere to put things.
        if path.isEmpty {
            let names = here.buckets.keys.sorted(by: ModelBucket.less)
            if names.isEmpty || Int.random(in: 0..<10, using: &rng) == 0 {
                return .createBucketIfNotExists(path: [], name: Array("b\(Int.random(in: 0..<4, using: &rng))".utf8))
            }
            if Int.random(in: 0..<40, using: &rng) == 0 { return .deleteBucket(path: [], name: names.randomElement(using: &rng)!) }
            return next(model: model, &rng)
        }
        // Sorted, so that a seed replays the same run (dictionary order varies per process).
        let existing = here.values.keys.sorted(by: ModelBucket.less)
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<50: return .put(path: path, key: key(&rng), value: value(&rng))
        case 50..<60 where !existing.isEmpty:
            return .put(path: path, key: existing.randomElement(using: &rng)!, value: value(&rng))
        case 60..<78:
            let k = !existing.isEmpty && Bool.random(using: &rng) ? existing.randomElement(using: &rng)! : key(&rng)
            return .delete(path: path, key: k)
        case 78..<84 where path.count < maxDepth:
            return .createBucketIfNotExists(path: path, name: Array("n\(Int.random(in: 0..<3, using: &rng))".utf8))
        case 84..<87:
            // Sometimes collide with a value key, to exercise incompatibleValue.
            let name = !existing.isEmpty && Bool.random(using: &rng) ? existing.randomElement(using: &rng)! : Array("n\(Int.random(in: 0..<3, using: &rng))".utf8)
            return .createBucket(path: path, name: name)
        case 87..<89:
            let names = here.buckets.keys.sorted(by: ModelBucket.less)
            let name = names.isEmpty || Int.random(in: 0..<4, using: &rng) == 0 ? key(&rng) : names.randomElement(using: &rng)!
            return .deleteBucket(path: path, name: name)
        case 89..<92: return .nextSequence(path: path)
        case 92..<94: return .put(path: path, key: [], value: value(&rng))
        default:
            // Bulk: many sequential keys, so pages split, spill and later merge.
            return .put(path: path, key: Array("bulk\(String(Int.random(in: 0..<5000, using: &rng), radix: 10))".utf8), value: value(&rng))
        }
    }
}

/// Compares a database with the model and names the first difference.
public func expectSame(_ actual: ModelBucket, _ expected: ModelBucket, _ context: @autoclosure () -> String) throws {
    guard actual != expected else { return }
    func firstDifference(_ a: ModelBucket, _ e: ModelBucket, _ path: String) -> String {
        if a.sequence != e.sequence { return "\(path): sequence \(a.sequence), expected \(e.sequence)" }
        for (k, v) in e.values where a.values[k] != v {
            return "\(path): key \(k.prefix(32)) is \(a.values[k].map { "\($0.count) bytes" } ?? "missing"), expected \(v.count) bytes"
        }
        for k in a.values.keys where e.values[k] == nil { return "\(path): unexpected key \(k.prefix(32))" }
        for (k, b) in e.buckets {
            guard let ab = a.buckets[k] else { return "\(path): bucket \(k.prefix(32)) missing" }
            if ab != b { return firstDifference(ab, b, path + "/" + String(decoding: k, as: UTF8.self)) }
        }
        for k in a.buckets.keys where e.buckets[k] == nil { return "\(path): unexpected bucket \(k.prefix(32))" }
        return "\(path): differs"
    }
    throw ModelMismatch("\(context()): \(firstDifference(actual, expected, ""))")
}
