// The exact-frame contract: applying each commit's frames to a copy of the file at N-1 gives
// the file at N, byte for byte, over [0, highWaterMark). The frames arrive once per commit,
// in txid order, starting with a new file's four pages.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

/// Applies every commit's frames to an in-memory shadow of the file.
final class ShadowImage: PageFlushObserver, @unchecked Sendable {
    // @unchecked Sendable because the engine calls didFlush with its writer lock held, one
    // call at a time; the test reads the fields only between commits.
    var bytes: [UInt8] = []
    var txIDs: [UInt64] = []
    var highWaterMark: UInt64 = 0
    var pageSize = 0

    func didFlush(_ info: PageFlushInfo) throws {
        pageSize = info.pageSize
        txIDs.append(info.txID)
        highWaterMark = info.highWaterMark
        if !info.isInitialization { #expect(info.frames.last.map { $0.id < 2 } == true, "the meta page comes last") }
        for frame in info.frames {
            #expect(frame.data.count == Int(frame.overflow + 1) * info.pageSize)
            let start = Int(frame.id) * info.pageSize
            if bytes.count < start + frame.data.count { bytes += [UInt8](repeating: 0, count: start + frame.data.count - bytes.count) }
            bytes.replaceSubrange(start..<(start + frame.data.count), with: frame.data)
        }
    }
}

@Suite("Page-flush frames")
struct PageFlushFrameTests {
    @Test("frames applied to a shadow copy reproduce the file after every commit",
          arguments: [1024, 4096, 16384], [false, true])
    func framesReproduceTheFile(_ pageSize: Int, _ noFreelistSync: Bool) throws {
        try checkFrames(pageSize: pageSize, noFreelistSync: noFreelistSync, seed: nil)
    }

    /// Seeds that caught a commit's run reserved at the end of the file and not all used:
    /// the unused pages lay below the high-water mark and no frame had written them.
    @Test("frames reproduce the file with the seeds that caught unwritten pages below the high-water mark",
          arguments: [(1024, UInt64(13177017516026611110)), (16384, 7486055264614230346)])
    func framesReproduceTheFileKnownSeeds(_ pageSize: Int, _ seed: UInt64) throws {
        try checkFrames(pageSize: pageSize, noFreelistSync: true, seed: seed)
    }

    /// Sixty random commits; after each, the frames applied so far equal the file over [0, hwm).
    private func checkFrames(pageSize: Int, noFreelistSync: Bool, seed: UInt64?) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("f.db")
        let shadow = ShadowImage()
        var options = DB.Options()
        options.pageSize = pageSize
        options.noSync = true
        options.noFreelistSync = noFreelistSync
        options.pageFlushObservers = [PageFlushObserverRegistration(observer: shadow)]
        let db = try DB.open(path: path, options: options)
        var rng = SeededRandom(label: "frames-\(pageSize)-\(noFreelistSync)", seed: seed)
        for t in 0..<60 {
            try db.update { tx in
                let b = try tx.createBucketIfNotExists(Array("b\(t % 3)".utf8))
                let nested = try b.createBucketIfNotExists("nested")
                for _ in 0..<Int(rng.next() % 40) {
                    let key = Array("k\(rng.next() % 300)".utf8)
                    if rng.next() % 4 == 0 { try b.delete(key) } else {
                        let size = rng.next() % 25 == 0 ? pageSize * 3 : Int(rng.next() % 200)
                        try b.put(key, rng.bytes(size))
                    }
                    if rng.next() % 5 == 0 { try nested.put(key, rng.bytes(10)) }
                }
                if t % 17 == 16 { try tx.deleteBucket(Array("b\((t + 1) % 3)".utf8)) }
            }
            // The shadow equals the file over [0, hwm).
            let file = try Data(contentsOf: URL(fileURLWithPath: path))
            let length = Int(shadow.highWaterMark) * pageSize
            #expect(shadow.bytes.count >= length)
            #expect(file.count >= length)
            let equal = file.prefix(length).elementsEqual(shadow.bytes.prefix(length))
            #expect(equal, "commit \(t) (txid \(shadow.txIDs.last ?? 0)), seed \(rng.seed)")
            if !equal { break }
        }
        // Once per commit, in txid order, from the new file's initialisation (txid 1) on.
        #expect(shadow.txIDs == Array(1...UInt64(shadow.txIDs.count)))
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("an observer registered on an open database sees the next commits; unregistering stops them")
    func registerOnOpenDatabase() throws {
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("r.db"))
        try db.update { try $0.createBucket("b") }
        let shadow = ShadowImage()
        db.register(shadow)
        try db.update { try $0.bucket("b")!.put("k", "v") }
        db.unregister(shadow)
        try db.update { try $0.bucket("b")!.put("k2", "v") }
        #expect(shadow.txIDs == [3])
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("prepare runs before the file exists; start and close run around the open database")
    func registrationLifecycle() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("life.db")
        let events = FailureLog()
        var options = DB.Options()
        options.pageFlushObservers = [PageFlushObserverRegistration(
            prepare: { p in events.add("prepare exists=\(FileManager.default.fileExists(atPath: p))") },
            start: { db in events.add("start \(db.pageSize)"); return nil },
            close: { events.add("close") })]
        let db = try DB.open(path: path, options: options)
        try db.close()
        #expect(events.all == ["prepare exists=false", "start 4096", "close"])
    }
}
