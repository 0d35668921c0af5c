// Round trips and refusals of the small artefact codecs: compression, generation ids,
// artefact keys and the artefact header.

import Testing
import WitchboltTestSupport
@testable import WitchboltStream

@Suite("Artefact codecs")
struct ArtefactCodecTests {
    static let header = ArtefactHeader(
        kind: .segment, databaseID: "0b5e8f2c-7c1d-4e57-9d1a-3f1e2d3c4b5a", generation: .new(nowMillis: 1_700_000_000_123, random: 0xDEAD_BEEF),
        minTxID: 17, maxTxID: 42, pageSize: 4096, firstTimestampMillis: 1_700_000_000_500, lastTimestampMillis: 1_700_000_009_999,
        codec: .zstd(level: 7))

    @Test("compression round-trips through none and zstd levels, in any chunking")
    func compressionRoundTrip() throws {
        var rng = SeededRandom(label: "compression")
        let text = (0..<300_000).map { i in UInt8(truncatingIfNeeded: (i % 251) ^ Int(UInt8.random(in: 0...3, using: &rng))) }
        for codec in [CompressionCodec.none, .zstd(level: 1), .zstd(level: 3), .zstd(level: 19), .zstd(level: -3)] {
            let packed = try Compression.compress(text, codec: codec)
            #expect(try Compression.decompress(packed, codec: codec, expectedCount: UInt64(text.count), name: "t") == text)
            // Streaming in small chunks gives the same bytes back.
            let compressor = try StreamingCompressor(codec: codec)
            var streamed: [UInt8] = []
            var offset = 0
            while offset < text.count {
                try compressor.compress(Array(text[offset..<min(text.count, offset + 7777)])) { streamed += $0 }
                offset += 7777
            }
            try compressor.finish { streamed += $0 }
            let decompressor = try StreamingDecompressor(codec: codec, name: "t")
            var out: [UInt8] = []
            offset = 0
            while offset < streamed.count {
                try decompressor.decompress(Array(streamed[offset..<min(streamed.count, offset + 999)])) { out += $0 }
                offset += 999
            }
            try decompressor.finish()
            #expect(out == text, "\(codec)")
        }
    }

    @Test("a stream whose frame ends exactly at a full output buffer is complete", arguments: [1, 2, 5, 64])
    func frameEndingAtBufferBoundary(blocks: Int) throws {
        // Sizes that are whole multiples of zstd's 128 KiB block (and output buffer) size.
        var rng = SeededRandom(label: "zstd boundary \(blocks)")
        let data = (0..<(blocks * 131_072)).map { i in i % 4096 < 2048 ? UInt8(truncatingIfNeeded: i / 4096) : UInt8.random(in: 0...255, using: &rng) }
        for codec in [CompressionCodec.zstd(level: 1), .zstd(level: 3)] {
            let packed = try Compression.compress(data, codec: codec)
            for chunk in [packed.count, 1 << 20, 4096, 7] {
                let decompressor = try StreamingDecompressor(codec: codec, name: "boundary")
                var count = 0
                var offset = 0
                while offset < packed.count {
                    try decompressor.decompress(Array(packed[offset..<min(packed.count, offset + chunk)])) { count += $0.count }
                    offset += chunk
                }
                try decompressor.finish()
                #expect(count == data.count)
            }
        }
    }

    @Test("a segment body compresses each page against its version one commit of 8 MiB earlier")
    func segmentWindowReachesEarlierCommits() throws {
        // Two "commits" of the same 2,048 random pages (8 MiB each), then a third with one byte
        // changed on every page: level 3's own 2 MiB window sees nothing to match, the
        // segment window sees every page's earlier version.
        var rng = SeededRandom(label: "segment window")
        let words = (0..<(1 << 20)).map { _ in rng.next() }
        let commit = words.withUnsafeBytes { Array($0) }
        var changed = commit
        for page in 0..<2048 { changed[page * 4096 + 100] ^= 0xFF }
        let body = commit + commit + changed
        let packed = try Compression.compress(body, codec: .default)
        #expect(packed.count < commit.count + commit.count / 8, "\(packed.count) bytes for three 8 MiB commits")
        #expect(try Compression.decompress(packed, codec: .default, expectedCount: UInt64(body.count), name: "window") == body)
        // Every decoder holding zstd's default limit (128 MiB) takes the window.
        let decompressor = try StreamingDecompressor(codec: .default, name: "window")
        var count = 0
        try decompressor.decompress(packed) { count += $0.count }
        try decompressor.finish()
        #expect(count == body.count)
    }

    @Test("damaged, truncated or oversized zstd data is a corrupt-artefact error naming the artefact")
    func compressionRefusals() throws {
        let text = [UInt8](repeating: 65, count: 100_000) + Array("tail".utf8)
        let packed = try Compression.compress(text, codec: .default)
        #expect(throws: StreamError.self) {
            try Compression.decompress(Array(packed.prefix(packed.count / 2)), codec: .default, expectedCount: UInt64(text.count), name: "seg-x")
        }
        do {
            _ = try Compression.decompress(packed, codec: .default, expectedCount: 1000, name: "seg-bomb")
            Issue.record("a body larger than announced was accepted")
        } catch let error as StreamError {
            #expect(error.code == .corruptArtefact)
            #expect(error.message.contains("seg-bomb"))
        }
        var garbage = packed
        garbage[0] ^= 0xFF
        #expect(throws: StreamError.self) {
            try Compression.decompress(garbage, codec: .default, expectedCount: UInt64(text.count), name: "g")
        }
    }

    @Test("codec strings parse and print")
    func codecStrings() {
        #expect(CompressionCodec(string: "none") == CompressionCodec.none)
        #expect(CompressionCodec(string: "zstd") == .zstd(level: 3))
        #expect(CompressionCodec(string: "zstd:19") == .zstd(level: 19))
        #expect(CompressionCodec(string: "zstd:99") == nil)
        #expect(CompressionCodec(string: "lz4") == nil)
        #expect(CompressionCodec.zstd(level: 5).description == "zstd:5")
    }

    @Test("generation ids are 24 hex digits that sort by creation time")
    func generations() {
        let a = Generation.new(nowMillis: 1_700_000_000_000)
        let b = Generation.new(nowMillis: 1_700_000_000_001)
        #expect(a.rawValue.count == 24)
        #expect(a < b)
        #expect(a.createdMillis == 1_700_000_000_000)
        #expect(Generation(rawValue: a.rawValue) == a)
        #expect(Generation(rawValue: "0000018bcfe56800deadbeeF") == nil)
        #expect(Generation(rawValue: "0000018bcfe56800deadbee") == nil)
        #expect(Generation(rawValue: "../../etc/passwd00000000") == nil)
        #expect(Generation.new(nowMillis: 255, random: 1).rawValue == "00000000000000ff00000001")
    }

    @Test("artefact keys round-trip and foreign names are rejected")
    func keys() {
        let g = Generation.new(nowMillis: 1_700_000_000_000, random: 5)
        let snapshot = ArtefactKey.snapshot(g, txID: 0x2a)
        #expect(snapshot == "generations/\(g.rawValue)/snapshots/000000000000002a.snapshot")
        #expect(ArtefactKey.parse(snapshot) == .snapshot(g, txID: 42))
        let segment = ArtefactKey.segment(g, minTxID: 43, maxTxID: 50)
        #expect(segment == "generations/\(g.rawValue)/segments/000000000000002b-0000000000000032.segment")
        #expect(ArtefactKey.parse(segment) == .segment(g, minTxID: 43, maxTxID: 50))
        for foreign in [
            "generations/\(g.rawValue)/segments/0000000000000032-000000000000002b.segment",  // min > max
            "generations/\(g.rawValue)/segments/000000000000002b.segment",
            "generations/\(g.rawValue)/snapshots/000000000000002A.snapshot",
            "generations/\(g.rawValue)/snapshots/000000000000002a.snapshot.tmp",
            "generations/\(g.rawValue)/wal/000000000000002a.snapshot",
            "generations/nothex/snapshots/000000000000002a.snapshot",
            "README.md", "generations/x", "",
        ] {
            #expect(ArtefactKey.parse(foreign) == nil, "\(foreign)")
        }
    }

    @Test("the header round-trips in 160 bytes")
    func headerRoundTrip() throws {
        let bytes = try Self.header.encode()
        #expect(bytes.count == ArtefactHeader.encodedSize)
        #expect(Array(bytes.prefix(4)) == Array("WBSG".utf8))
        #expect(try ArtefactHeader.decode(bytes[...], expecting: .segment, name: "h") == Self.header)
        var none = Self.header
        none.codec = .none
        #expect(try ArtefactHeader.decode(try none.encode()[...], expecting: .segment, name: "h") == none)
    }

    @Test("a header with a wrong magic, version, kind, or any flipped bit is refused by name")
    func headerRefusals() throws {
        let bytes = try Self.header.encode()
        func refused(_ b: [UInt8], _ kind: ArtefactHeader.Kind = .segment, containing text: String) {
            do {
                _ = try ArtefactHeader.decode(b[...], expecting: kind, name: "gen/x.segment")
                Issue.record("accepted: \(text)")
            } catch let error as StreamError {
                #expect(error.code == .corruptArtefact)
                #expect(error.message.hasPrefix("gen/x.segment: "), "\(error)")
                #expect(error.message.contains(text), "\(error)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        refused(bytes, .snapshot, containing: "is a segment file")
        var magic = bytes
        magic[0] = 0x00
        refused(magic, containing: "bad magic")
        var version = bytes
        version[4] = 2
        refused(version, containing: "unsupported format version 2")
        refused(Array(bytes.prefix(100)), containing: "truncated")
        for bit in stride(from: 6 * 8, to: bytes.count * 8, by: 37) {
            var flipped = bytes
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            refused(flipped, containing: "header checksum mismatch")
        }
        // Fields that cannot be right are refused at encode time.
        var bad = Self.header
        bad.pageSize = 1000
        #expect(throws: StreamError.self) { try bad.encode() }
        bad = Self.header
        bad.databaseID = ""
        #expect(throws: StreamError.self) { try bad.encode() }
        bad = Self.header
        bad.minTxID = 99
        #expect(throws: StreamError.self) { try bad.encode() }
    }
}
