// The benchmark kit's own logic, the parts whose mistakes would go unnoticed in a table of
// figures: parsing RssAnon out of /proc/self/status, the sampler's peak, nearest-rank
// percentiles, merging commits with confirmations into replication lags, replica URLs per
// database, and the plain copy that restore is compared with.

import Foundation
import Synchronization
import Testing
@testable import WitchboltBenchKit

@Suite("Bench kit")
struct BenchKitTests {
    @Test("RssAnon is read from a status text in kB and turned into bytes; a text without it gives nil")
    func parsesRssAnon() {
        let text = """
            Name:\tswift-test
            VmRSS:\t  120000 kB
            RssAnon:\t   51234 kB
            RssFile:\t   68766 kB
            RssShmem:\t       0 kB
            """
        let parsed: Int64? = AnonymousMemory.parse(status: text)
        #expect(parsed == Int64(51234 * 1024))
        #expect(AnonymousMemory.parse(status: "Name:\tx\nRssFile:\t10 kB\n") == nil)
        #expect(AnonymousMemory.parse(status: "RssAnon:\tlots kB\n") == nil)
    }

    @Test("this process's RssAnon is read on Linux, and the sampler sees an allocation above its baseline")
    func samplerSeesAnAllocation() throws {
        #if os(Linux)
        let now = try #require(AnonymousMemory.current())
        #expect(now > 0)
        let size = 64 << 20
        let (sum, peak) = try MemorySampler.measure { () -> Int in
            // Touch every page so that it is resident, and hold it for a few samples.
            var block = [UInt8](repeating: 1, count: size)
            block[size - 1] = 2
            usleep(30_000)
            return block.reduce(0) { $0 &+ Int($1) }
        }
        #expect(sum == size + 1)
        let figures = try #require(peak)
        #expect(figures.samples >= 2)
        #expect(figures.aboveBaselineBytes >= Int64(size) * 9 / 10, "peak \(figures.peakBytes), baseline \(figures.baselineBytes)")
        #endif
    }

    @Test("nearest-rank percentiles: the smallest value with at least p% at or below it")
    func nearestRankPercentiles() {
        let values = (1...100).map(Double.init)
        #expect(nearestRank(values, 50) == 50)
        #expect(nearestRank(values, 99) == 99)
        #expect(nearestRank(values, 100) == 100)
        #expect(nearestRank(values, 0) == 1)
        #expect(nearestRank([7], 99) == 7)
        #expect(nearestRank([1, 2, 3], 50) == 2)
        #expect(nearestRank([], 50) == nil)
    }

    @Test("a commit's lag runs to the first confirmation that reaches its txid; the last one's is the catch-up")
    func mergesCommitsWithConfirmations() throws {
        let commits: [(txID: UInt64, seconds: Double)] = [(3, 1.000), (4, 1.010), (5, 1.020), (6, 1.500)]
        // Confirmed 2 early (before any of these), then 4 at 1.3 s, then 6 at 1.55 s.
        let confirmations: [(seconds: Double, txID: UInt64)] = [(0.5, 2), (1.3, 4), (1.55, 6)]
        let lag = try #require(ReplicationLag.merge(commits: commits, confirmations: confirmations))
        // Lags: 300, 290, 530 (5 waits for 6's confirmation), 50 ms.
        #expect(lag.commits == 4)
        #expect(lag.unconfirmed == 0)
        #expect(abs(lag.p50Millis - 290) < 1e-6)
        #expect(abs(lag.maxMillis - 530) < 1e-6)
        #expect(abs(lag.p99Millis - 530) < 1e-6)
        #expect(abs((lag.catchUpMillis ?? -1) - 50) < 1e-6)
    }

    @Test("commits never confirmed are counted apart and leave no catch-up time; a confirmation seen before a commit returned is a zero lag")
    func unconfirmedCommits() throws {
        let lag = try #require(ReplicationLag.merge(commits: [(1, 2.0), (2, 2.1), (3, 2.2)], confirmations: [(1.5, 1)]))
        #expect(lag.commits == 1)
        #expect(lag.unconfirmed == 2)
        #expect(lag.maxMillis == 0)
        #expect(lag.catchUpMillis == nil)
        #expect(ReplicationLag.merge(commits: [], confirmations: [(1, 1)]) == nil)
    }

    @Test("the lag tracker pairs noted commits with the confirmed txid it polls")
    func trackerMeasuresLag() throws {
        let confirmed = ConfirmedBox()
        let tracker = LagTracker(interval: .milliseconds(1)) { confirmed.value }
        tracker.committed(10)
        usleep(20_000)
        confirmed.set(10)
        usleep(10_000)
        tracker.committed(11)
        confirmed.set(11)
        let lag = try #require(tracker.finish())
        #expect(lag.commits == 2)
        #expect(lag.maxMillis >= 15, "the first commit waited about 20 ms: \(lag)")
        #expect(lag.maxMillis < 2_000)
        #expect(lag.catchUpMillis != nil)
    }

    @Test("a replica per database is a path component added to the URL, before any query")
    func replicaURLPerDatabase() {
        #expect(StreamBenchEngine.url("file:///tmp/replica", appending: "a.db-1-2") == "file:///tmp/replica/a.db-1-2")
        #expect(StreamBenchEngine.url("file:///tmp/replica/", appending: "x") == "file:///tmp/replica/x")
        #expect(StreamBenchEngine.url("s3://bucket", appending: "x") == "s3://bucket/x")
        #expect(StreamBenchEngine.url("s3://bucket/prefix?region=us-east-1", appending: "x") == "s3://bucket/prefix/x?region=us-east-1")
        #expect(StreamBenchEngine.url("nats://127.0.0.1:4222/bucket?creds=/c", appending: "x") == "nats://127.0.0.1:4222/bucket/x?creds=/c")
    }

    @Test("the plain copy copies the bytes (up to a limit) and refuses to overwrite")
    func plainCopy() throws {
        let dir = NSTemporaryDirectory() + "witchbolt-benchkit-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = (0..<(3 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/src"))
        #expect(try copyFile(dir + "/src", dir + "/all") == Int64(bytes.count))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/all")) == Data(bytes))
        #expect(try copyFile(dir + "/src", dir + "/part", limit: (1 << 20) + 5) == (1 << 20) + 5)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/part")) == Data(bytes.prefix((1 << 20) + 5)))
        #expect(throws: BenchError.self) { try copyFile(dir + "/src", dir + "/all") }
    }
}

/// A confirmed txid the test sets and the tracker polls.
final class ConfirmedBox: Sendable {
    private let box = Mutex<UInt64?>(nil)
    var value: UInt64? { box.withLock { $0 } }
    func set(_ v: UInt64) { box.withLock { $0 = v } }
}
