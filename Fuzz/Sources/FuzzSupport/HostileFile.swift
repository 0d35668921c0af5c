// The hostile-file fuzz target: the input's bytes become a database file, which is opened
// read-only, walked (every bucket, every key, forwards and backwards, with gets and seeks)
// and checked. Errors are fine; a crash, a hang or a sanitizer report is a finding. When the
// file checks clean, it is also opened for writing, changed, committed and checked again.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Witchbolt

/// The scratch file this process fuzzes through.
let scratchDirectory: String = {
    let dir = NSTemporaryDirectory() + "witchbolt-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

/// Walks a bucket: forwards with gets, backwards, seeks, and nested buckets (depth-limited).
func walk(_ bucket: Bucket, depth: Int, budget: inout Int) throws {
    guard depth < 12 else { return }
    let c = bucket.cursor()
    var keys: [[UInt8]] = []
    var item = try c.first()
    while let (k, v) = item, budget > 0 {
        budget -= 1
        keys.append(k)
        if v == nil {
            if let child = try bucket.bucket(k) { try walk(child, depth: depth + 1, budget: &budget) }
        } else {
            _ = try bucket.get(k)
        }
        item = try c.next()
    }
    item = try c.last()
    while item != nil, budget > 0 {
        budget -= 1
        item = try c.prev()
    }
    for k in keys.prefix(16) {
        _ = try c.seek(k)
        _ = try c.seek(k + [0])
    }
}

/// Opens the file read-only, walks and checks it; true when it checks clean.
@inline(never)
func readOnlyWalk(_ path: String) -> Bool {
    var options = DB.Options()
    options.readOnly = true
    options.logger = silentLogger
    // A small mapping: the default reserves 64 GiB per open, slow under ASan.
    options.initialMmapSize = 1 << 20
    guard let db = try? DB.open(path: path, options: options) else { return false }
    defer { try? db.close() }
    var clean = false
    _ = try? db.view { tx in
        var budget = 200_000
        try tx.forEach { _, bucket in try walk(bucket, depth: 0, budget: &budget) }
        _ = try tx.cursor().last()
        clean = tx.check().isEmpty
    }
    return clean
}

/// With WITCHBOLT_FUZZ_SKIP_KNOWN=1, inputs that only reach an open engine bug are skipped
/// so a long run can explore past it: files shorter than two of the pages meta 0 claims
/// (TESTING.md, engine bug 1). The smoke step never sets it.
let skipKnownBugs = ProcessInfo.processInfo.environment["WITCHBOLT_FUZZ_SKIP_KNOWN"] == "1"

func hitsKnownBug(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard bytes.count >= 28 else { return false }
    let pageSize = Int(bytes.loadUnaligned(fromByteOffset: 24, as: UInt32.self).littleEndian)
    return bytes.count < 2 * max(pageSize, 1024)
}

/// Opens, walks and checks the database in `bytes`.
public func fuzzHostileFile(_ bytes: UnsafeRawBufferPointer) {
    if skipKnownBugs && hitsKnownBug(bytes) { return }
    let path = scratchDirectory + "/hostile.db"
    // Written without fsync (FileManager.createFile syncs): a disk stall caused by other work
    // on the machine must not turn into a fuzzer timeout (it did once, for 28 s).
    let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o600)
    guard fd >= 0 else { return }
    if let base = bytes.baseAddress, bytes.count > 0 { _ = write(fd, base, bytes.count) }
    close(fd)
    defer { try? FileManager.default.removeItem(atPath: path) }

    // The read-only handle lives in its own function: it must be gone before the writer opens
    // (a closed read-only handle keeps its shared lock until it is released; see TESTING.md).
    guard readOnlyWalk(path) else { return }

    // A file that checks clean must also take a commit and stay clean.
    var writable = DB.Options()
    writable.logger = silentLogger
    writable.timeout = .seconds(5)
    writable.initialMmapSize = 1 << 20
    // Durability is the power-loss harness's business; here an fsync only adds disk stalls.
    writable.noSync = true
    guard let rw = try? DB.open(path: path, options: writable) else { return }
    defer { try? rw.close() }
    _ = try? rw.update { tx in
        let b = try tx.createBucketIfNotExists(Array("fuzz".utf8))
        for i in 0..<50 { try b.put(Array("k\(i)".utf8), [UInt8](repeating: UInt8(i), count: i * 7)) }
        var names: [[UInt8]] = []
        try tx.forEach { name, _ in names.append(name) }
        for name in names.prefix(2) where name != Array("fuzz".utf8) { try tx.deleteBucket(name) }
    }
    if let problems = try? rw.view({ $0.check() }), !problems.isEmpty {
        fatalError("a file that checked clean is inconsistent after one commit: \(problems.prefix(3))")
    }
}
