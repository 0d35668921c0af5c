// A small Swift wrapper of LMDB (environment, transaction, cursor) for the differential tests:
// the second, independent implementation of an ordered key/value store that Witchbolt's
// answers are compared with. All unsafe pointer code for LMDB stays in this file; callers
// get copies of keys and values.

import CLMDB

/// An LMDB failure, with the library's message.
struct LMDBError: Error, CustomStringConvertible {
    let call: String
    let code: Int32
    var description: String { "\(call): \(String(cString: mdb_strerror(code))) (\(code))" }
}

@inline(__always)
private func check(_ rc: Int32, _ call: String) throws {
    if rc != 0 { throw LMDBError(call: call, code: rc) }
}

/// An LMDB environment in one file (MDB_NOSUBDIR), unsynced: the tests compare answers, not durability.
final class LMDBEnvironment {
    let handle: OpaquePointer
    let path: String

    init(path: String, mapSize: Int = 1 << 30) throws {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create")
        handle = env!
        self.path = path
        do {
            try check(mdb_env_set_mapsize(handle, mapSize), "mdb_env_set_mapsize")
            try check(mdb_env_open(handle, path, UInt32(MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOTLS), 0o600), "mdb_env_open \(path)")
        } catch {
            mdb_env_close(handle)
            throw error
        }
    }

    /// Begins a transaction on the unnamed database.
    func begin(readOnly: Bool) throws -> LMDBTransaction {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(handle, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "mdb_txn_begin")
        var dbi: MDB_dbi = 0
        do {
            try check(mdb_dbi_open(txn, nil, 0, &dbi), "mdb_dbi_open")
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        return LMDBTransaction(handle: txn!, dbi: dbi)
    }

    func close() { mdb_env_close(handle) }
}

/// An LMDB transaction; end it with `commit()` or `abort()`.
final class LMDBTransaction {
    private var handle: OpaquePointer?
    let dbi: MDB_dbi

    init(handle: OpaquePointer, dbi: MDB_dbi) {
        self.handle = handle
        self.dbi = dbi
    }

    deinit { if let handle { mdb_txn_abort(handle) } }

    func commit() throws {
        guard let h = handle else { return }
        handle = nil
        try check(mdb_txn_commit(h), "mdb_txn_commit")
    }

    func abort() {
        guard let h = handle else { return }
        handle = nil
        mdb_txn_abort(h)
    }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        var k = MDB_val(), v = MDB_val()
        return try key.withUnsafeBytes { kb in
            k.mv_size = kb.count
            k.mv_data = UnsafeMutableRawPointer(mutating: kb.baseAddress)
            let rc = mdb_get(handle, dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc, "mdb_get")
            return copy(v)
        }
    }

    func put(_ key: [UInt8], _ value: [UInt8]) throws {
        var k = MDB_val(), v = MDB_val()
        try key.withUnsafeBytes { kb in
            try value.withUnsafeBytes { vb in
                k.mv_size = kb.count
                k.mv_data = UnsafeMutableRawPointer(mutating: kb.baseAddress)
                v.mv_size = vb.count
                v.mv_data = UnsafeMutableRawPointer(mutating: vb.baseAddress)
                try check(mdb_put(handle, dbi, &k, &v, 0), "mdb_put")
            }
        }
    }

    /// Deletes `key`; false when it was absent.
    @discardableResult
    func delete(_ key: [UInt8]) throws -> Bool {
        var k = MDB_val()
        return try key.withUnsafeBytes { kb in
            k.mv_size = kb.count
            k.mv_data = UnsafeMutableRawPointer(mutating: kb.baseAddress)
            let rc = mdb_del(handle, dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try check(rc, "mdb_del")
            return true
        }
    }

    func cursor() throws -> LMDBCursor {
        var c: OpaquePointer?
        try check(mdb_cursor_open(handle, dbi, &c), "mdb_cursor_open")
        return LMDBCursor(handle: c!)
    }
}

/// An LMDB cursor; moves return copies, nil at either end.
final class LMDBCursor {
    private let handle: OpaquePointer
    init(handle: OpaquePointer) { self.handle = handle }
    deinit { mdb_cursor_close(handle) }

    private func move(_ op: MDB_cursor_op, key: [UInt8]? = nil) throws -> (key: [UInt8], value: [UInt8])? {
        var k = MDB_val(), v = MDB_val()
        let rc: Int32
        if let key {
            rc = key.withUnsafeBytes { kb in
                k.mv_size = kb.count
                k.mv_data = UnsafeMutableRawPointer(mutating: kb.baseAddress)
                return mdb_cursor_get(handle, &k, &v, op)
            }
        } else {
            rc = mdb_cursor_get(handle, &k, &v, op)
        }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get")
        return (copy(k), copy(v))
    }

    func first() throws -> (key: [UInt8], value: [UInt8])? { try move(MDB_FIRST) }
    func last() throws -> (key: [UInt8], value: [UInt8])? { try move(MDB_LAST) }
    func next() throws -> (key: [UInt8], value: [UInt8])? { try move(MDB_NEXT) }
    func prev() throws -> (key: [UInt8], value: [UInt8])? { try move(MDB_PREV) }
    /// The first key at or after `key` (MDB_SET_RANGE).
    func seek(_ key: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? { try move(MDB_SET_RANGE, key: key) }
}

private func copy(_ v: MDB_val) -> [UInt8] {
    guard v.mv_size > 0, let p = v.mv_data else { return [] }
    return Array(UnsafeRawBufferPointer(start: p, count: v.mv_size))
}
