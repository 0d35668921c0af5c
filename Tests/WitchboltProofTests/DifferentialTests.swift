// Differential tests against LMDB: a long random sequence of puts, deletes, gets, seeks,
// forward and backward cursor walks, nested buckets (LMDB key prefixes, see LMDBBuckets),
// sequences, commits, rollbacks and reopens, run on Witchbolt and on LMDB side by side.
// After every step both stores must give the same answers (and the same error for each
// write); after every commit and reopen their whole contents must be equal, and equal to
// the reference model. Seeds are printed; WITCHBOLT_SEED replays one.
// Short form in the suite; WITCHBOLT_LONG=1 runs 100 times longer.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

/// One side-by-side run.
final class DifferentialRun {
    let dir = TemporaryDirectory("differential")
    var db: DB
    var env: LMDBEnvironment
    var writeTx: Tx?
    var lmdbWrite: LMDBTransaction?
    /// The state the open write transaction sees, and the last committed one.
    var pending = ModelBucket()
    var committed = ModelBucket()
    var rng: SeededRandom
    let generator = WorkloadGenerator(keySpace: 300, maxValueSize: 5000, maxDepth: 3)
    /// Answers compared (each write's outcome, each get, each cursor move, each whole-store comparison).
    var compared = 0
    var commits = 0, rollbacks = 0, reopens = 0
    var step = 0
    /// WITCHBOLT_TRACE=1 prints every step (to shrink a failing seed by hand).
    let trace = ProcessInfo.processInfo.environment["WITCHBOLT_TRACE"] == "1"

    init(seed: UInt64?) throws {
        rng = SeededRandom(label: "differential", seed: seed)
        var o = DB.Options()
        o.pageSize = 1024
        db = try DB.open(path: dir.file("w.db"), options: o)
        env = try LMDBEnvironment(path: dir.file("l.mdb"))
    }

    deinit {
        writeTx?.rollback()
        lmdbWrite?.abort()
        try? db.close()
        env.close()
    }

    func fail(_ message: String) -> ModelMismatch { ModelMismatch("seed \(rng.seed) step \(step): \(message)") }

    /// The Witchbolt bucket at `path` (nil for the root).
    func bucket(_ tx: Tx, _ path: [[UInt8]]) throws -> Bucket? {
        guard let first = path.first else { return nil }
        var b = try tx.bucket(first)
        for name in path.dropFirst() { b = try b?.bucket(name) }
        guard let b else { throw fail("bucket \(path) missing in Witchbolt") }
        return b
    }

    /// Compares gets, a cursor walk and a sequence in one bucket the model says exists.
    func compareReads(_ tx: Tx, _ lmdb: LMDBBuckets, model: ModelBucket) throws {
        let path = model.allPaths(maxDepth: 3).randomElement(using: &rng)!
        let here = model.bucket(at: path)!
        let b = try bucket(tx, path)

        // Gets of existing and random keys.
        for _ in 0..<3 {
            let key = !here.values.isEmpty && Bool.random(using: &rng) ? here.values.keys.sorted(by: ModelBucket.less).randomElement(using: &rng)! : generator.key(&rng)
            if let b {
                let w = try b.get(key), l = try lmdb.get(path, key)
                compared += 1
                guard w == l else { throw fail("get \(path) \(key.prefix(16)): Witchbolt \(w?.count ?? -1) bytes, LMDB \(l?.count ?? -1) bytes") }
            }
        }
        if let b, let last = path.last {
            guard case let .bucket(s) = try lmdb.entry(Array(path.dropLast()), last), s == b.sequence else {
                throw fail("sequence of \(path): Witchbolt \(b.sequence), LMDB differs")
            }
            compared += 1
        }

        // A cursor walk: start at first, last or a seek, then a random run of next and prev.
        let wc = b?.cursor() ?? tx.cursor()
        let lc = try lmdb.cursor(path)
        var w: (key: [UInt8], value: [UInt8]?)?
        var l: (key: [UInt8], value: [UInt8]?)?
        var move: String
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: (w, l, move) = (try wc.first(), try lc.first(), "first")
        case 1: (w, l, move) = (try wc.last(), try lc.last(), "last")
        default:
            let key = !here.values.isEmpty && Bool.random(using: &rng) ? here.values.keys.sorted(by: ModelBucket.less).randomElement(using: &rng)! : generator.key(&rng)
            (w, l, move) = (try wc.seek(key), try lc.seek(key), "seek \(key.prefix(16))")
        }
        let forward = Bool.random(using: &rng)
        for _ in 0..<Int.random(in: 0...40, using: &rng) {
            compared += 1
            guard w?.key == l?.key, w?.value == l?.value else {
                throw fail("cursor in \(path) after \(move): Witchbolt \(w.map { "\($0.key.prefix(16))" } ?? "end"), LMDB \(l.map { "\($0.key.prefix(16))" } ?? "end")")
            }
            guard w != nil else { break }
            // Mostly one direction, sometimes a step back.
            if forward == (Int.random(in: 0..<5, using: &rng) != 0) {
                (w, l, move) = (try wc.next(), try lc.next(), "next")
            } else {
                (w, l, move) = (try wc.prev(), try lc.prev(), "prev")
            }
        }
    }

    /// Compares both whole stores with each other and with the model.
    func compareAll(_ tx: Tx, _ lmdb: LMDBBuckets, model: ModelBucket, _ what: String) throws {
        let w = try ModelBucket.load(from: tx)
        let l = try lmdb.load()
        compared += 1
        try expectSame(w, l, "seed \(rng.seed) step \(step) \(what): Witchbolt vs LMDB")
        try expectSame(w, model, "seed \(rng.seed) step \(step) \(what): Witchbolt vs the model")
    }

    func reopen() throws {
        try db.close()
        env.close()
        var o = DB.Options()
        o.pageSize = 1024
        db = try DB.open(path: dir.file("w.db"), options: o)
        env = try LMDBEnvironment(path: dir.file("l.mdb"))
        reopens += 1
        try db.view { tx in
            let txn = try env.begin(readOnly: true)
            defer { txn.abort() }
            try compareAll(tx, LMDBBuckets(txn: txn), model: committed, "after reopen")
        }
        guard try db.checkProblems().isEmpty else { throw fail("check() after reopen: \(try db.checkProblems().prefix(3))") }
    }

    /// One random step.
    func advance() throws {
        step += 1
        guard let tx = writeTx, let txn = lmdbWrite else {
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<15:
                try db.view { tx in
                    let txn = try env.begin(readOnly: true)
                    defer { txn.abort() }
                    try compareReads(tx, LMDBBuckets(txn: txn), model: committed)
                }
            case 15..<19:
                if trace { print("step \(step): reopen") }
                try reopen()
            default:
                if trace { print("step \(step): begin") }
                writeTx = try db.begin(writable: true)
                lmdbWrite = try env.begin(readOnly: false)
                pending = committed
            }
            return
        }
        let lmdb = LMDBBuckets(txn: txn)
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<72:
            let op = generator.next(model: pending, &rng)
            let expected = op.apply(to: &pending)
            if trace { print("step \(step): \(op) -> \(expected.map { "\($0)" } ?? "ok")") }
            let w = try op.apply(to: tx)
            let l = try lmdb.apply(op)
            compared += 1
            guard w == l, w == expected else {
                throw fail("\(op): Witchbolt \(w.map { "\($0)" } ?? "ok"), LMDB \(l.map { "\($0)" } ?? "ok"), model \(expected.map { "\($0)" } ?? "ok")")
            }
        case 72..<90:
            try compareReads(tx, lmdb, model: pending)
        case 90..<97:
            try compareAll(tx, lmdb, model: pending, "before commit")
            if trace { print("step \(step): commit") }
            try tx.commit()
            try txn.commit()
            (writeTx, lmdbWrite) = (nil, nil)
            committed = pending
            commits += 1
            try db.view { tx in
                let txn = try env.begin(readOnly: true)
                defer { txn.abort() }
                try compareAll(tx, LMDBBuckets(txn: txn), model: committed, "after commit")
            }
        default:
            if trace { print("step \(step): rollback") }
            tx.rollback()
            txn.abort()
            (writeTx, lmdbWrite) = (nil, nil)
            pending = committed
            rollbacks += 1
        }
    }
}

@Suite("Differential against LMDB")
struct DifferentialTests {
    @Test("random operation sequences give the same answers on Witchbolt and LMDB")
    func sameAnswersAsLMDB() throws {
        let steps = isLongRun ? 400_000 : 20_000
        let run = try DifferentialRun(seed: nil)
        for _ in 0..<steps { try run.advance() }
        #expect(try run.db.checkProblems() == [] || run.writeTx != nil)
        print("[differential] seed \(run.rng.seed): \(run.step) steps, operations compared: \(run.compared), commits \(run.commits), rollbacks \(run.rollbacks), reopens \(run.reopens)")
    }
}
