// Licensed under the Apache License, Version 2.0.
//
// The stream's sense of time. Every interval (sync, snapshot, retention, retry backoff) and
// every lag figure is measured on one injected `Clock` (swift-clocks' `TestClock` in tests),
// so tests move time forward instead of sleeping. Wall-clock milliseconds (what commit
// timestamps and artefact headers hold) are derived from it: the wall time when the clock
// was captured, plus the clock's elapsed time since.
//
// The stream's worker threads are plain threads that block on condition variables. They
// cannot sleep on an arbitrary `Clock` (its `sleep` is async), so `waitTime(until:)` tells
// them how long to block in real time: the remaining time for a real clock, and a short poll
// for any other clock, after which they look at the injected clock again.

import Foundation

/// The clock the stream measures intervals and lag with.
public struct StreamClock: Sendable {
    private let elapsedSinceStart: @Sendable () -> Duration
    private let startWallMillis: Int64
    /// Whether the clock runs at real speed (`ContinuousClock` or `SuspendingClock`).
    let isRealTime: Bool

    /// A clock over `clock`, whose "now" maps to `wallMillisAtStart` milliseconds since the
    /// Unix epoch (the current wall time by default).
    public init<C: Clock>(_ clock: C, wallMillisAtStart: Int64? = nil) where C.Duration == Duration {
        let start = clock.now
        self.elapsedSinceStart = { start.duration(to: clock.now) }
        self.startWallMillis = wallMillisAtStart ?? StreamClock.systemWallMillis()
        self.isRealTime = clock is ContinuousClock || clock is SuspendingClock
    }

    /// The real clock.
    public static var continuous: StreamClock { StreamClock(ContinuousClock()) }

    /// Time elapsed since the clock was captured (monotonic, never negative).
    public var now: Duration { max(.zero, elapsedSinceStart()) }

    /// The current wall time in milliseconds since the Unix epoch.
    public var nowMillis: Int64 { startWallMillis + now.milliseconds }

    /// How long a worker should block before looking at the clock again, to wake at `deadline`.
    func waitTime(until deadline: Duration) -> TimeInterval {
        let remaining = deadline - now
        if remaining <= .zero { return 0 }
        if isRealTime { return min(remaining.seconds, 3600) }
        return 0.005
    }

    static func systemWallMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded toward zero).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
