// Durable one-put commits of several engines in alternating blocks, within one run. Each
// engine opens its own new file; then the engines take turns committing `blockSize`
// transactions (the order of the turns alternating from block to block) until each has made
// `commitCount`. An engine's time is the sum of its turns.
//
// Why: on these shared machines the disk's fsync latency drifts over seconds, so an engine
// that makes its 10,000 commits in one stretch of two to three seconds meets a different disk
// than the engine after it, and the ratio of the two moved from 0.86 to 1.17 between
// invocations of the same build. Turns of a fraction of a second expose both engines to the
// same drift. It is only sound for engines that do nothing between their commits and sync
// every commit: a stream's compression and uploads, or one engine's dirty pages written back
// without fsync, would fall into the other engine's turn.

/// Durable one-put commits of several engines, interleaved.
public struct InterleavedCommits {
    /// One runner per engine; none may replicate.
    public let runners: [BenchRunner]
    /// Commits per turn.
    public let blockSize: Int

    /// Interleaves `runners`' durable commits in turns of `blockSize` commits.
    public init(runners: [BenchRunner], blockSize: Int) {
        precondition(runners.allSatisfy { !$0.engine.replicates }, "interleaved commits need engines without background work: a stream's uploads would fall into the other engine's turn")
        precondition(blockSize > 0, "a turn needs at least one commit")
        self.runners = runners
        self.blockSize = blockSize
    }

    /// Runs `commitCount` commits on every engine, the first turn going to `runners[first]`,
    /// and returns one `durable-commit` result per engine, in the order of `runners`.
    public func run(first: Int = 0) throws -> [BenchResult] {
        guard let config = runners.first?.data.config else { return [] }
        let total = config.commitCount

        // Every engine starts from a new file, opened before the first turn.
        var stores: [any BenchStore] = []
        defer {
            for store in stores { try? store.close() }
            for runner in runners where !runner.keepFiles { runner.removeFiles(of: .durableCommit) }
        }
        for runner in runners {
            runner.removeFiles(of: .durableCommit)
            stores.append(try runner.engine.open(path: runner.path(for: .durableCommit), config: config))
        }

        // Turns alternate their order, so no engine always follows the same one.
        var seconds = Array(repeating: 0.0, count: runners.count)
        var latencies = Array(repeating: [Double](), count: runners.count)
        for i in latencies.indices { latencies[i].reserveCapacity(total) }
        let order = Array(0..<UInt64(total))
        var done = 0
        var turn = 0
        var reported = 0
        let engines = runners.indices.map { (first + $0) % runners.count }
        while done < total {
            let end = min(done + blockSize, total)
            for e in turn % 2 == 0 ? engines : engines.reversed() {
                let turnStart = ContinuousClock.now
                for i in done..<end {
                    let start = ContinuousClock.now
                    try stores[e].insert(order[i...i], data: runners[e].data)
                    latencies[e].append(elapsed(since: start) * 1e6)
                }
                seconds[e] += elapsed(since: turnStart)
            }
            done = end
            turn += 1
            if done * 10 / total > reported {
                reported = done * 10 / total
                runners[0].progress("interleaved durable-commit (\(runners.map(\.engine.name).joined(separator: ", ")), turns of \(blockSize)): \(done) of \(total)")
            }
        }

        // Each engine's result, with its file's size after the last commit.
        var results: [BenchResult] = []
        for (e, runner) in runners.enumerated() {
            _ = try stores[e].finishWrites()
            var r = BenchResult(engine: runner.engine.name, workload: .durableCommit, ops: total, seconds: seconds[e], latencies: latencies[e])
            r.fileBytes = runner.size(runner.path(for: .durableCommit))
            results.append(r)
        }
        return results
    }
}
