// Peak anonymous memory during an operation: a thread reads `RssAnon` from /proc/self/status
// every few milliseconds (Linux). Anonymous memory is heap and stacks; the pages of a mapped
// database file are `RssFile` and do not count, which is what the target asks for
// ("at most 64 MiB above the mapped file"). On systems without /proc the sampler reports nil.

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Reads and parses the resident anonymous memory of this process.
public enum AnonymousMemory {
    /// The `RssAnon` line of a /proc/PID/status text, in bytes (the kernel writes kB); nil
    /// when the text has no such line.
    public static func parse(status text: String) -> Int64? {
        for line in text.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            let fields = line.dropFirst("RssAnon:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let number = fields.first.flatMap({ Int64($0) }) else { return nil }
            let unit = fields.dropFirst().first.map { $0.lowercased() } ?? "kb"
            switch unit {
            case "kb": return number * 1024
            case "mb": return number * 1024 * 1024
            case "b": return number
            default: return nil
            }
        }
        return nil
    }

    /// Asks glibc's allocator to return the free memory it holds to the system
    /// (`malloc_trim(0)`, looked up at run time: Swift's Glibc module does not export it, and
    /// other C libraries lack it, in which case this does nothing).
    public static func releaseFreedMemory() {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        typealias MallocTrim = @convention(c) (Int) -> Int32
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }

    /// This process's resident anonymous memory in bytes, or nil where /proc/self/status
    /// does not exist or lacks the line.
    public static func current() -> Int64? {
        // Read with one read(2) into a fixed buffer: no Foundation file APIs in the sampling loop.
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8192)
        var used = 0
        while used < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, $0.count - used) }
            if n <= 0 { break }
            used += n
        }
        return parse(status: String(decoding: buffer[..<used], as: UTF8.self))
    }
}

/// What a sampled operation used: the anonymous memory before it and the highest seen during it.
public struct MemoryPeak: Sendable, Equatable {
    /// Resident anonymous bytes just before the operation.
    public var baselineBytes: Int64
    /// The highest resident anonymous bytes sampled during it.
    public var peakBytes: Int64
    /// Samples taken.
    public var samples: Int

    /// The peak above the baseline (never negative).
    public var aboveBaselineBytes: Int64 { max(0, peakBytes - baselineBytes) }
}

/// Samples `RssAnon` on a background thread every `interval` while an operation runs.
public final class MemorySampler: Sendable {
    private struct State {
        var peak: Int64
        var samples = 0
    }

    private let baseline: Int64
    private let state: Mutex<State>
    private let poller: PollingThread

    /// Takes the baseline now and starts sampling; nil where /proc/self/status cannot be read.
    ///
    /// First, glibc's allocator gives the freed memory it holds back to the system: earlier
    /// work (a write workload with Stream on leaves hundreds of MiB freed but resident in
    /// malloc's arenas) would otherwise sit in the baseline and absorb the operation's own
    /// allocations, hiding them from the peak.
    public init?(interval: Duration = .milliseconds(2)) {
        AnonymousMemory.releaseFreedMemory()
        guard let baseline = AnonymousMemory.current() else { return nil }
        self.baseline = baseline
        self.state = Mutex(State(peak: baseline))
        self.poller = PollingThread(name: "witchbolt.bench.memory", interval: interval)
        poller.start { [self] in sample() }
    }

    /// Takes one last sample, stops the thread, and returns the figures.
    public func finish() -> MemoryPeak {
        poller.stop()
        sample()
        return state.withLock { MemoryPeak(baselineBytes: baseline, peakBytes: $0.peak, samples: $0.samples) }
    }

    private func sample() {
        guard let now = AnonymousMemory.current() else { return }
        state.withLock { s in
            s.peak = max(s.peak, now)
            s.samples += 1
        }
    }

    /// Runs `body` with a sampler around it; the figures are nil where sampling is unavailable.
    public static func measure<R>(_ body: () throws -> R) throws -> (R, MemoryPeak?) {
        let sampler = MemorySampler()
        let result: R
        do {
            result = try body()
        } catch {
            _ = sampler?.finish()
            throw error
        }
        return (result, sampler?.finish())
    }
}
