// Replication lag during a write workload: how long after a commit returned its txid was
// confirmed on every replica. The benchmark thread notes each commit (txid, time); a poller
// thread reads the stream's confirmed txid every few milliseconds (StreamBenchEngine's
// `lagInterval`, 5 ms) and keeps each change; after the run the two sequences are merged
// into one lag a commit, summarised as p50/p99/max, with the catch-up time of the last commit.

import Foundation
import Synchronization
import WitchboltStream

/// The lag figures of one run.
public struct ReplicationLag: Sendable, Equatable {
    /// Commits whose confirmation was seen.
    public var commits: Int
    /// Commits never confirmed before the tracker stopped.
    public var unconfirmed: Int
    /// The median lag over the confirmed commits, in milliseconds.
    public var p50Millis: Double
    /// The 99th percentile of the lag (nearest rank), in milliseconds.
    public var p99Millis: Double
    /// The largest lag, in milliseconds.
    public var maxMillis: Double
    /// From the last commit returning to its confirmation on every replica, in milliseconds
    /// (nil when it was never confirmed).
    public var catchUpMillis: Double?
    /// Generations the stream started (1 when it kept up: the first; each more is a queue
    /// overflow or another reason to start over with a new snapshot).
    public var generations = 0
    /// Commits the stream's queue dropped (it overflowed; a new generation followed).
    public var droppedCommits = 0

    /// The fields of a JSON object, without braces.
    public var jsonFields: [String] {
        var fields = [
            "\"lagP50Millis\":\(fixed(p50Millis, 3))", "\"lagP99Millis\":\(fixed(p99Millis, 3))",
            "\"lagMaxMillis\":\(fixed(maxMillis, 3))", "\"lagCommits\":\(commits)", "\"lagUnconfirmed\":\(unconfirmed)",
        ]
        if let catchUpMillis { fields.append("\"catchUpMillis\":\(fixed(catchUpMillis, 3))") }
        fields += ["\"streamGenerations\":\(generations)", "\"droppedCommits\":\(droppedCommits)"]
        return fields
    }

    /// A human-readable summary.
    public var summary: String {
        var s = "replication lag p50 \(fixed(p50Millis, 1)) ms, p99 \(fixed(p99Millis, 1)) ms, max \(fixed(maxMillis, 1)) ms over \(commits) commits"
        if unconfirmed > 0 { s += " (\(unconfirmed) never confirmed)" }
        s += catchUpMillis.map { ", caught up \(fixed($0, 1)) ms after the last commit" } ?? ", NOT caught up"
        if generations > 1 || droppedCommits > 0 { s += "; \(generations) generations, \(droppedCommits) commits dropped by queue overflows" }
        return s
    }

    /// Merges commits (txid and when the commit returned, in seconds on any one clock, in
    /// commit order) with confirmations (when the confirmed txid was seen to change, and its new
    /// value, in time order): a commit's lag is the time of the first confirmation at or after
    /// it that reaches its txid (zero when that confirmation was seen before the commit returned).
    /// Nil without commits.
    public static func merge(commits: [(txID: UInt64, seconds: Double)], confirmations: [(seconds: Double, txID: UInt64)]) -> ReplicationLag? {
        guard !commits.isEmpty else { return nil }
        var lags: [Double] = []
        lags.reserveCapacity(commits.count)
        var next = 0
        var unconfirmed = 0
        var lastLag: Double?
        for (index, commit) in commits.enumerated() {
            // Confirmed txids only grow: the first confirmation reaching this commit is at or
            // after the one that reached the previous commit.
            while next < confirmations.count && confirmations[next].txID < commit.txID { next += 1 }
            guard next < confirmations.count else {
                unconfirmed += 1
                continue
            }
            let lag = max(0, confirmations[next].seconds - commit.seconds) * 1000
            lags.append(lag)
            if index == commits.count - 1 { lastLag = lag }
        }
        lags.sort()
        return ReplicationLag(
            commits: lags.count, unconfirmed: unconfirmed,
            p50Millis: nearestRank(lags, 50) ?? 0, p99Millis: nearestRank(lags, 99) ?? 0, maxMillis: lags.last ?? 0,
            catchUpMillis: lastLag)
    }
}

/// Notes commits and polls a stream's confirmed txid on its own thread, until stopped.
public final class LagTracker: Sendable {
    private struct State {
        var commits: [(txID: UInt64, seconds: Double)] = []
        var confirmations: [(seconds: Double, txID: UInt64)] = []
    }

    private let state = Mutex(State())
    private let start = ContinuousClock.now
    private let poller: PollingThread
    private let confirmed: @Sendable () -> UInt64?

    /// Starts polling `confirmed` (e.g. a controller's `confirmedTxID`) every `interval`.
    public init(interval: Duration = .milliseconds(1), confirmed: @escaping @Sendable () -> UInt64?) {
        self.confirmed = confirmed
        self.poller = PollingThread(name: "witchbolt.bench.lag", interval: interval)
        poller.start { [self] in sample() }
    }

    /// Notes that the commit of `txID` just returned (call from the committing thread).
    public func committed(_ txID: UInt64) {
        let now = seconds()
        state.withLock { $0.commits.append((txID, now)) }
    }

    /// Stops polling after one last sample and returns the lag figures (nil without commits).
    public func finish() -> ReplicationLag? {
        poller.stop()
        sample()
        return state.withLock { ReplicationLag.merge(commits: $0.commits, confirmations: $0.confirmations) }
    }

    private func sample() {
        guard let txID = confirmed() else { return }
        let now = seconds()
        state.withLock { s in
            if s.confirmations.last?.txID != txID { s.confirmations.append((now, txID)) }
        }
    }

    private func seconds() -> Double { elapsed(since: start) }
}
