// Licensed under the Apache License, Version 2.0.
//
// The interleaved durable-commit runner: engines take turns of a fixed number of commits,
// the order of the turns alternating, each engine committing the same keys in the same
// order, each starting from a new file that is removed afterwards.

import Foundation
import Synchronization
import Testing
@testable import WitchboltBenchKit

@Suite("Interleaved durable commits")
struct InterleavedCommitsTests {
    @Test("paired runs report the median of their own ratios, and every ratio in the JSON")
    func pairedRatios() {
        let odd = PairedRatios(runs: [1.2, 0.9, 1.05])
        #expect(odd.median == 1.05)
        #expect(odd.jsonFields == "\"pairedRuns\":3,\"runRatios\":[1.200,0.900,1.050]")
        #expect(odd.list == "1.200, 0.900, 1.050")
        #expect(PairedRatios(runs: [1.0, 0.96, 0.94, 1.1]).median == 0.98)
        #expect(median([]) == nil)
    }

    @Test("engines alternate in turns of the block size, the order of the turns alternating, each committing every key once and in order")
    func turnsAlternate() throws {
        let log = CommitLog()
        let dir = NSTemporaryDirectory() + "witchbolt-interleave-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = BenchConfig()
        config.count = 10
        config.commitCount = 10
        let data = BenchData(config: config)
        let runners = ["a", "b"].map { BenchRunner(engine: RecordingEngine(name: $0, log: log), data: data, directory: dir, keepFiles: false) }

        let results = try InterleavedCommits(runners: runners, blockSize: 3).run(first: 1)

        // Turns of 3 (the last one short), b first, then the order flips every turn.
        let turns: [(String, ClosedRange<UInt64>)] = [
            ("b", 0...2), ("a", 0...2), ("a", 3...5), ("b", 3...5), ("b", 6...8), ("a", 6...8), ("a", 9...9), ("b", 9...9),
        ]
        var expected: [(String, UInt64)] = []
        for (engine, keys) in turns {
            for key in keys { expected.append((engine, key)) }
        }
        let seen = log.entries
        #expect(seen.map(\.0) == expected.map(\.0))
        #expect(seen.map(\.1) == expected.map(\.1))
        #expect(results.map(\.engine) == ["a", "b"])
        for r in results {
            #expect(r.workload == .durableCommit)
            #expect(r.ops == 10)
            #expect(r.latencies.count == 10)
            // A turn is timed whole: it holds every commit it timed.
            #expect(r.seconds > 0 && r.seconds >= r.latencies.reduce(0, +) / 1e6)
        }
        // Every store was closed and its file removed.
        #expect(log.closed.sorted() == ["a", "b"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}

/// What the recording stores saw, in order.
final class CommitLog: Sendable {
    private let state = Mutex<(entries: [(String, UInt64)], closed: [String])>(([], []))
    var entries: [(String, UInt64)] { state.withLock { $0.entries } }
    var closed: [String] { state.withLock { $0.closed } }
    func record(_ engine: String, _ keys: ArraySlice<UInt64>) { state.withLock { $0.entries += keys.map { (engine, $0) } } }
    func close(_ engine: String) { state.withLock { $0.closed.append(engine) } }
}

/// An engine whose store records every key it is asked to commit, and touches its file.
struct RecordingEngine: BenchEngine {
    let name: String
    let log: CommitLog

    func open(path: String, config: BenchConfig) throws -> any BenchStore {
        #expect(FileManager.default.createFile(atPath: path, contents: Data([1])))
        return RecordingStore(name: name, log: log)
    }

    func files(path: String) -> [String] { [path] }
}

final class RecordingStore: BenchStore {
    let name: String
    let log: CommitLog
    init(name: String, log: CommitLog) {
        self.name = name
        self.log = log
    }
    func insert(_ keys: ArraySlice<UInt64>, data: BenchData) throws { log.record(name, keys) }
    func read(_ keys: [UInt64], data: BenchData) throws -> Int { 0 }
    func scan() throws -> Int { 0 }
    func close() throws { log.close(name) }
}
