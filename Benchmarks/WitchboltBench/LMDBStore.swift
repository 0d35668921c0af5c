// LMDB behind the benchmark's protocol, through CLMDB: one environment file (MDB_NOSUBDIR,
// plus its "-lock" file), the unnamed database, a map size far beyond the data, MDB_NOSYNC
// only with --no-sync. This file is the only one that touches LMDB's C API and pointers.

import CLMDB
import WitchboltBenchKit

/// The LMDB engine for the benchmark.
struct LMDBBenchEngine: BenchEngine {
    var name: String { "lmdb" }

    func open(path: String, config: BenchConfig) throws -> any BenchStore {
        try LMDBStore(path: path, noSync: config.noSync, mapSize: Self.mapSize(config))
    }

    func files(path: String) -> [String] { [path, path + "-lock"] }

    /// Eight times the raw data, and at least 1 GiB: the map is address space, not disk.
    static func mapSize(_ config: BenchConfig) -> Int {
        max(1 << 30, 8 * max(config.count, config.commitCount) * (config.keySize + config.valueSize + 16))
    }
}

/// An open LMDB environment with its database handle.
final class LMDBStore: BenchStore {
    // Not Sendable: the benchmark uses it from one thread.
    private var env: OpaquePointer?
    private var dbi: MDB_dbi = 0

    init(path: String, noSync: Bool, mapSize: Int) throws {
        try check(mdb_env_create(&env), "mdb_env_create")
        do {
            try check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize")
            var flags = UInt32(MDB_NOSUBDIR)
            if noSync { flags |= UInt32(MDB_NOSYNC) }
            try check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open \(path)")
            // Open the unnamed database once, in a write transaction.
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
            do {
                try check(mdb_dbi_open(txn, nil, 0, &dbi), "mdb_dbi_open")
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
            try check(mdb_txn_commit(txn), "mdb_txn_commit")
        } catch {
            mdb_env_close(env)
            env = nil
            throw error
        }
    }

    func insert(_ keys: ArraySlice<UInt64>, data: BenchData) throws {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
        do {
            for n in keys {
                let key = data.key(n)
                let value = data.value(n)
                // Read-only views: a mutable one would copy the pooled value array on every put.
                try key.withUnsafeBytes { k in
                    try value.withUnsafeBytes { v in
                        var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                        var mv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                        try check(mdb_put(txn, dbi, &mk, &mv, 0), "mdb_put")
                    }
                }
            }
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    func read(_ keys: [UInt64], data: BenchData) throws -> Int {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin (read)")
        defer { mdb_txn_abort(txn) }
        var found = 0
        var touched: UInt8 = 0
        for n in keys {
            var key = data.key(n)
            let rc = key.withUnsafeMutableBytes { k -> Int32 in
                var mk = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
                var mv = MDB_val()
                let rc = mdb_get(txn, dbi, &mk, &mv)
                if rc == 0, mv.mv_size > 0 { touched &+= mv.mv_data.load(as: UInt8.self) }
                return rc
            }
            if rc == 0 { found += 1 } else if rc != MDB_NOTFOUND { try check(rc, "mdb_get") }
        }
        blackHole(touched)
        return found
    }

    func scan() throws -> Int {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin (scan)")
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        var seen = 0
        var touched: UInt8 = 0
        var mk = MDB_val()
        var mv = MDB_val()
        var rc = mdb_cursor_get(cursor, &mk, &mv, MDB_FIRST)
        while rc == 0 {
            seen += 1
            if mv.mv_size > 0 { touched &+= mv.mv_data.load(as: UInt8.self) }
            rc = mdb_cursor_get(cursor, &mk, &mv, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try check(rc, "mdb_cursor_get") }
        blackHole(touched)
        return seen
    }

    func close() throws {
        if let env { mdb_env_close(env) }
        env = nil
    }

    deinit { if let env { mdb_env_close(env) } }
}

/// Throws a benchmark error naming `what` when an LMDB call fails.
private func check(_ rc: Int32, _ what: String) throws {
    guard rc != 0 else { return }
    throw BenchError("lmdb: \(what): \(String(cString: mdb_strerror(rc)))")
}
