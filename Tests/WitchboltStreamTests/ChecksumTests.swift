// XXH64 against the specification's vectors (and python-xxhash's), streaming equal to one-shot;
// the whole-database checksum kept incrementally equal to a recomputation.

import Testing
import WitchboltTestSupport
import Witchbolt
@testable import WitchboltStream

@Suite("Checksums")
struct ChecksumTests {
    @Test("XXH64 matches the published test vectors")
    func vectors() {
        #expect(XXH64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
        #expect(XXH64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXH64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(XXH64.hash(Array("Nobody inspects the spammish repetition".utf8)) == 0xFBCE_A83C_8A37_8BF1)
        let hundred = (0..<100).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        #expect(XXH64.hash(hundred) == 0xA61F_8D4C_170F_E531)
        #expect(XXH64.hash(hundred, seed: 0x9E37_79B1) == 0x86F5_49ED_E5AC_87E2)
        #expect(XXH64.hash([UInt8](repeating: 0, count: 4096), seed: 5) == 0x0392_5843_5AA1_2414)
    }

    @Test("streaming XXH64 equals one-shot for every chunking")
    func streaming() {
        var rng = SeededRandom(label: "xxh64 streaming")
        for length in [0, 1, 3, 31, 32, 33, 63, 64, 65, 100, 1000, 4099] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let seed = UInt64.random(in: 0...UInt64.max, using: &rng)
            let expected = XXH64.hash(bytes, seed: seed)
            for chunk in [1, 5, 31, 32, 33, 200] {
                var hasher = XXH64(seed: seed)
                var offset = 0
                while offset < length {
                    hasher.update(bytes[offset..<min(length, offset + chunk)])
                    offset += chunk
                }
                #expect(hasher.digest() == expected, "length \(length) chunk \(chunk)")
            }
        }
    }

    @Test("the whole-database checksum covers the active meta page and pages 2..<hwm only")
    func definition() {
        let pageSize = 512
        var image = [UInt8](repeating: 0, count: 6 * pageSize)
        for i in image.indices { image[i] = UInt8(truncatingIfNeeded: i * 13) }
        let txID: UInt64 = 7
        var expected = DatabaseChecksum.pageHash(id: 1, bytes: image[pageSize..<(2 * pageSize)])
        for id in 2..<6 { expected ^= DatabaseChecksum.pageHash(id: UInt64(id), bytes: image[(id * pageSize)..<((id + 1) * pageSize)]) }
        #expect(DatabaseChecksum.of(image: image, pageSize: pageSize, txID: txID) == expected)
        // The inactive meta page (page 0 at an odd txid) is not part of it.
        var other = image
        other[3] ^= 0xFF
        #expect(DatabaseChecksum.of(image: other, pageSize: pageSize, txID: txID) == expected)
        other[pageSize + 3] ^= 0xFF
        #expect(DatabaseChecksum.of(image: other, pageSize: pageSize, txID: txID) != expected)
    }

    @Test("applying records incrementally equals recomputing over the image, with growth, overflow and shrink")
    func incremental() {
        var db = SyntheticDatabase(rng: SeededRandom(label: "checksum incremental"))
        var checksum = DatabaseChecksum(pageSize: db.pageSize)
        checksum.appendImage(db.image)
        checksum.setActiveMeta(txID: db.txID)
        for _ in 0..<30 {
            let record = db.commit()
            checksum.apply(record)
            #expect(checksum.value == db.expectedChecksum)
            #expect(checksum.value == record.databaseChecksum)
        }
        // Shrinking drops the hashes of the pages past the new high-water mark.
        checksum.resize(to: 5)
        #expect(checksum.value == DatabaseChecksum.of(image: Array(db.image.prefix(5 * db.pageSize)), pageSize: db.pageSize, txID: db.txID))
        // Growing adds zero pages.
        checksum.resize(to: 7)
        let grown = Array(db.image.prefix(5 * db.pageSize)) + [UInt8](repeating: 0, count: 2 * db.pageSize)
        #expect(checksum.value == DatabaseChecksum.of(image: grown, pageSize: db.pageSize, txID: db.txID))
    }

    @Test("image chunks of any size give the same checksum")
    func chunking() {
        var db = SyntheticDatabase(rng: SeededRandom(label: "checksum chunking"), pages: 9)
        _ = db.commit()
        let expected = db.expectedChecksum
        for chunk in [1, 100, 511, 512, 513, 4000] {
            var checksum = DatabaseChecksum(pageSize: db.pageSize)
            var offset = 0
            while offset < db.image.count {
                checksum.appendImage(Array(db.image[offset..<min(db.image.count, offset + chunk)]))
                offset += chunk
            }
            checksum.setActiveMeta(txID: db.txID)
            #expect(!checksum.hasPartialPage)
            #expect(checksum.value == expected, "chunk \(chunk)")
        }
    }
    @Test("an image fed page by page grows the hash storage geometrically, not a page at a time")
    func pageByPageGrowthIsGeometric() {
        // 100,000 pages of 16 bytes: the old exact reservation reallocated (and copied every
        // hash) a few hundred times; doubling needs about log2(100,000) = 17 reallocations.
        let pageSize = 16
        var checksum = DatabaseChecksum(pageSize: pageSize)
        var reallocations = 0
        var capacity = checksum.reservedPages
        let page = [UInt8](repeating: 7, count: pageSize)
        for _ in 0..<100_000 {
            checksum.appendImage(page)
            if checksum.reservedPages != capacity {
                reallocations += 1
                capacity = checksum.reservedPages
            }
        }
        #expect(checksum.highWaterMark == 100_000)
        #expect(reallocations <= 24, "\(reallocations) reallocations for 100,000 pages")
    }
}
