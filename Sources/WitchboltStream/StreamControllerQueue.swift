// Licensed under the Apache License, Version 2.0.
//
// The bounded hand-off between the commit path and the shadow writer. `offer` is what the
// page-flush observer calls while the engine holds its writer lock: it takes a mutex for a
// few instructions, appends, signals, and returns. It never blocks on a full queue: past its
// capacity (in transactions or bytes) it drops the commit, remembers that it overflowed, and
// the shadow writer answers by starting a new generation (the database itself still holds
// every commit, so the new generation's snapshot carries what was dropped).

import Foundation
import Synchronization
import Witchbolt

/// A bounded, never-blocking queue of committed transactions.
final class StreamControllerQueue: Sendable {
    struct State {
        var items: [PageFlushInfo] = []
        var head = 0
        var bytes = 0
        var overflowed = false
        var droppedCount = 0
        var closed = false
        var lastOfferedTxID: UInt64?
    }

    private let state = Mutex(State())
    private let signal = WakeSignal()
    let capacity: Int
    let byteCapacity: Int

    init(capacity: Int, byteCapacity: Int) {
        self.capacity = capacity
        self.byteCapacity = byteCapacity
    }

    /// Appends a commit, or drops it and marks the queue overflowed; never blocks.
    /// Returns false when the commit was dropped.
    @discardableResult
    func offer(_ info: PageFlushInfo) -> Bool {
        let size = info.frames.reduce(0) { $0 + $1.data.count }
        let accepted = state.withLock { s -> Bool in
            if s.closed { return false }
            let count = s.items.count - s.head
            if s.overflowed || count >= capacity || (count > 0 && s.bytes + size > byteCapacity) {
                s.overflowed = true
                s.droppedCount += 1
                s.lastOfferedTxID = info.txID
                return false
            }
            s.items.append(info)
            s.lastOfferedTxID = info.txID
            s.bytes += size
            return true
        }
        signal.wake()
        return accepted
    }

    /// Takes everything queued, and whether commits were dropped before or among them
    /// (clearing the flag). Blocks up to `timeout` seconds while the queue is empty.
    func drain(timeout: TimeInterval) -> (items: [PageFlushInfo], overflowed: Bool) {
        if isEmpty { signal.wait(timeout: timeout) }
        return state.withLock { s in
            let items = Array(s.items[s.head...])
            let overflowed = s.overflowed
            s.items.removeAll(keepingCapacity: true)
            s.head = 0
            s.bytes = 0
            s.overflowed = false
            return (items, overflowed)
        }
    }

    /// Wakes a waiting `drain` without adding anything.
    func poke() { signal.wake() }

    /// Refuses further commits.
    func close() {
        state.withLock { $0.closed = true }
        signal.wake()
    }

    var isEmpty: Bool { state.withLock { $0.items.count == $0.head && !$0.overflowed } }
    var count: Int { state.withLock { $0.items.count - $0.head } }
    /// The commit time of the oldest queued commit.
    var oldestTimestampMillis: Int64? { state.withLock { s in s.head < s.items.count ? s.items[s.head].timestampMillis : nil } }
    /// The txid of the last commit offered (taken or dropped).
    var lastOfferedTxID: UInt64? { state.withLock { $0.lastOfferedTxID } }
    /// How many commits were dropped since the controller started.
    var droppedCount: Int { state.withLock { $0.droppedCount } }
}

/// A condition a worker thread sleeps on until another thread wakes it or a timeout passes.
/// A wake that arrives while nobody waits is remembered, so it is never lost.
final class WakeSignal: Sendable {
    private let condition = NSCondition()
    private let pending = Mutex(false)

    func wake() {
        condition.lock()
        pending.withLock { $0 = true }
        condition.signal()
        condition.unlock()
    }

    func wait(timeout: TimeInterval) {
        condition.lock()
        defer { condition.unlock() }
        if !pending.withLock({ $0 }) && timeout > 0 {
            _ = condition.wait(until: Date(timeIntervalSinceNow: timeout))
        }
        pending.withLock { $0 = false }
    }
}
