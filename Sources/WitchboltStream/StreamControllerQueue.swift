// Licensed under the Apache License, Version 2.0.
//
// The bounded hand-off between the commit path and the shadow writer. `offer` is what the
// page-flush observer calls while the engine holds its writer lock: it takes a mutex for a
// few instructions, appends, and returns. It never blocks on a full queue: past its
// capacity (in transactions or bytes) it drops the commit, remembers that it overflowed, and
// the shadow writer answers by starting a new generation (the database itself still holds
// every commit, so the new generation's snapshot carries what was dropped).
//
// An offer wakes the writer only when the writer is not polling (or the queue just reached an
// eighth of its capacity, or it overflowed). On a VM, waking a thread that sleeps on another
// vCPU cost the commit thread 40-60 µs in `futex`, about 17% of a durable one-put commit when
// every commit did it, and still 1-2% when one offer every `wakeInterval` did. So a writer
// whose last drain took commits polls: it sleeps one `wakeInterval` without asking to be
// woken and looks again; only after a look that finds nothing does it sleep until an offer
// wakes it. Under steady commits the commit path makes no system call here at all, and a
// commit waits at most `wakeInterval`. Segments are sealed every second, so this adds
// nothing noticeable to replication lag.

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
        /// Whether the writer will look at the queue within one wake interval on its own
        /// (its last drain took commits, or an offer already woke it): offers need not wake it.
        var writerPolls = false
        /// How many offers woke the writer (tests count them).
        var wakes = 0
    }

    /// The longest a commit waits in the queue unannounced: how long a polling writer sleeps.
    static let wakeIntervalNanos: UInt64 = 5_000_000

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
        let (accepted, wake) = state.withLock { s -> (Bool, Bool) in
            if s.closed { return (false, true) }
            let count = s.items.count - s.head
            if s.overflowed || count >= capacity || (count > 0 && s.bytes + size > byteCapacity) {
                // The writer must start a new generation: tell it now.
                s.overflowed = true
                s.droppedCount += 1
                s.lastOfferedTxID = info.txID
                s.writerPolls = true
                s.wakes += 1
                return (false, true)
            }
            s.items.append(info)
            s.lastOfferedTxID = info.txID
            let before = s.bytes
            s.bytes += size
            // Wake a writer that waits to be woken, or any writer when the queue crosses an
            // eighth of its capacity.
            let wake = !s.writerPolls
                || count + 1 == max(1, capacity / 8)
                || (before < byteCapacity / 8 && s.bytes >= byteCapacity / 8)
            if wake {
                s.writerPolls = true
                s.wakes += 1
            }
            return (true, wake)
        }
        if wake { signal.wake() }
        return accepted
    }

    /// Takes everything queued, and whether commits were dropped before or among them
    /// (clearing the flag). Blocks up to `timeout` seconds while the queue is empty, or until
    /// a wake (an offer that announced itself, `poke`, `close`).
    func drain(timeout: TimeInterval) -> (items: [PageFlushInfo], overflowed: Bool) {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, timeout) * 1e9)
        while isEmpty {
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= deadline { break }
            // Polling, offers do not wake this thread: sleep one wake interval, then look. A
            // look that finds nothing ends the polling, in the same critical section as the
            // look, so the next offer wakes the sleep that follows.
            if state.withLock({ $0.writerPolls }) {
                if signal.wait(timeout: Double(min(deadline, now &+ Self.wakeIntervalNanos) - now) / 1e9) { break }
                state.withLock { s in
                    if s.items.count == s.head && !s.overflowed { s.writerPolls = false }
                }
                continue
            }
            if signal.wait(timeout: Double(deadline - now) / 1e9) { break }
        }
        return state.withLock { s in
            let items = Array(s.items[s.head...])
            let overflowed = s.overflowed
            s.items.removeAll(keepingCapacity: true)
            s.head = 0
            s.bytes = 0
            s.overflowed = false
            if !items.isEmpty { s.writerPolls = true }
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
    /// How many offers woke the writer.
    var wakeCount: Int { state.withLock { $0.wakes } }
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

    /// Sleeps until a wake or `timeout` seconds; returns whether it was woken (a wake that
    /// came before the call counts).
    @discardableResult
    func wait(timeout: TimeInterval) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if !pending.withLock({ $0 }) && timeout > 0 {
            _ = condition.wait(until: Date(timeIntervalSinceNow: timeout))
        }
        return pending.withLock { woken in
            defer { woken = false }
            return woken
        }
    }
}
