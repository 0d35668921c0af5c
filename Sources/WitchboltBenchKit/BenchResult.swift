// One measured workload: operations, elapsed time, per-transaction latencies, file size; the
// derived rates and percentiles; the JSON line of `--json`; and the median of several runs.

/// The outcome of one workload on one engine.
public struct BenchResult: Sendable {
    /// "witchbolt" or "lmdb".
    public var engine: String
    /// The workload.
    public var workload: BenchWorkload
    /// Operations done (puts, gets, keys scanned, or commits).
    public var ops: Int
    /// Elapsed seconds.
    public var seconds: Double
    /// Latency of each write transaction in microseconds, sorted (empty for reads).
    public var latencies: [Double] = []
    /// The size of the database's files after the workload, in bytes (0 when not measured).
    public var fileBytes: Int64 = 0
    /// Whether every commit was streamed to a replica (engine `witchbolt+stream`, snapshot, restore).
    public var replicate = false
    /// Replication lag during the workload (write workloads with a stream).
    public var lag: ReplicationLag?
    /// Database bytes moved (snapshot, restore, copy; 0 otherwise): the rate is `megabytesPerSecond`.
    public var bytes: Int64 = 0
    /// Resident anonymous memory before and at the peak of the workload (snapshot, restore, copy).
    public var memory: MemoryPeak?
    /// Over several runs, the highest peak above baseline (set on the median run when reported).
    public var worstPeakAnonAboveBaselineBytes: Int64?

    /// A result.
    public init(engine: String, workload: BenchWorkload, ops: Int, seconds: Double, latencies: [Double] = [], fileBytes: Int64 = 0) {
        self.engine = engine
        self.workload = workload
        self.ops = ops
        self.seconds = seconds
        self.latencies = latencies.sorted()
        self.fileBytes = fileBytes
    }

    /// Operations a second.
    public var opsPerSecond: Double { seconds > 0 ? Double(ops) / seconds : 0 }
    /// Nanoseconds an operation.
    public var nsPerOp: Double { ops > 0 ? seconds * 1e9 / Double(ops) : 0 }
    /// MiB (2^20 bytes) of `bytes` a second.
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / 1_048_576 / seconds : 0 }

    /// The `p`-th percentile (0...100) of the transaction latencies in microseconds, nearest rank; nil without latencies.
    public func percentile(_ p: Double) -> Double? { nearestRank(latencies, p) }

    /// One compact JSON object: engine, workload, ops, seconds, opsPerSecond, nsPerOp, and for
    /// `durable-commit` p50Micros, p90Micros, p99Micros and maxMicros; fileBytes when measured.
    public var jsonLine: String {
        var fields = [
            "\"engine\":\"\(engine)\"", "\"workload\":\"\(workload.rawValue)\"", "\"ops\":\(ops)",
            "\"seconds\":\(fixed(seconds, 6))", "\"opsPerSecond\":\(fixed(opsPerSecond, 1))", "\"nsPerOp\":\(fixed(nsPerOp, 1))",
        ]
        if workload == .durableCommit, let p50 = percentile(50), let p90 = percentile(90), let p99 = percentile(99), let max = latencies.last {
            fields += ["\"p50Micros\":\(fixed(p50, 1))", "\"p90Micros\":\(fixed(p90, 1))", "\"p99Micros\":\(fixed(p99, 1))", "\"maxMicros\":\(fixed(max, 1))"]
        }
        if fileBytes > 0 { fields.append("\"fileBytes\":\(fileBytes)") }
        if replicate { fields.append("\"replicate\":true") }
        if let lag { fields += lag.jsonFields }
        if bytes > 0 { fields += ["\"bytes\":\(bytes)", "\"megabytesPerSecond\":\(fixed(megabytesPerSecond, 1))"] }
        if let memory {
            fields += ["\"baselineAnonBytes\":\(memory.baselineBytes)", "\"peakAnonBytes\":\(memory.peakBytes)",
                       "\"peakAnonAboveBaselineBytes\":\(memory.aboveBaselineBytes)", "\"memorySamples\":\(memory.samples)"]
        }
        if let worst = worstPeakAnonAboveBaselineBytes { fields.append("\"worstPeakAnonAboveBaselineBytes\":\(worst)") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A human-readable line: ops/s, ns/op, and latency percentiles when there are several transactions.
    public var summary: String {
        var s = "\(engine) \(workload.rawValue): \(ops) ops in \(fixed(seconds, 3)) s, \(grouped(opsPerSecond)) ops/s, \(fixed(nsPerOp, 1)) ns/op"
        if latencies.count > 1, let p50 = percentile(50), let p90 = percentile(90), let p99 = percentile(99), let max = latencies.last {
            s += "; tx latency p50 \(fixed(p50, 1)) µs, p90 \(fixed(p90, 1)) µs, p99 \(fixed(p99, 1)) µs, max \(fixed(max, 1)) µs"
        }
        if fileBytes > 0 { s += "; file \(fileBytes) bytes" }
        if let lag { s += "; " + lag.summary }
        if bytes > 0 { s += "; \(bytes) bytes, \(fixed(megabytesPerSecond, 1)) MiB/s" }
        if let memory { s += "; peak anonymous memory \(fixed(Double(memory.aboveBaselineBytes) / 1_048_576, 1)) MiB above the \(fixed(Double(memory.baselineBytes) / 1_048_576, 1)) MiB before" }
        return s
    }

    /// The run with the median ops/s among `runs` of one engine and workload (the lower middle for an even count).
    public static func median(_ runs: [BenchResult]) -> BenchResult? {
        guard !runs.isEmpty else { return nil }
        return runs.sorted { $0.opsPerSecond < $1.opsPerSecond }[(runs.count - 1) / 2]
    }
}

/// The `p`-th percentile (0...100) of `sorted` (ascending), nearest rank: the smallest value
/// with at least p% of the values at or below it; nil when empty.
public func nearestRank(_ sorted: [Double], _ p: Double) -> Double? {
    guard !sorted.isEmpty else { return nil }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// The median of `values` (the mean of the middle two for an even count); nil when empty.
public func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Ratios of runs paired within one invocation (engines in turns, or a workload without and
/// with Stream back to back): their median, and how the JSON and the table show them.
public struct PairedRatios {
    /// One ratio per run, in run order.
    public var runs: [Double]
    /// The median of the runs' ratios.
    public var median: Double { WitchboltBenchKit.median(runs) ?? 0 }
    /// `"pairedRuns":N,"runRatios":[...]`, for a JSON line.
    public var jsonFields: String {
        "\"pairedRuns\":\(runs.count),\"runRatios\":[\(runs.map { fixed($0, 3) }.joined(separator: ","))]"
    }
    /// The runs' ratios for the table, comma-separated.
    public var list: String { runs.map { fixed($0, 3) }.joined(separator: ", ") }

    public init(runs: [Double]) { self.runs = runs }
}

/// `value` with `digits` decimals, without Foundation.
public func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = (scaled / scale).rounded(.down)
    var fraction = String(Int64(scaled - whole * scale))
    while fraction.count < digits { fraction = "0" + fraction }
    let sign = value < 0 && scaled > 0 ? "-" : ""
    return sign + String(Int64(whole)) + (digits > 0 ? "." + fraction : "")
}

/// An integer rate with thousands separators ("1,234,567").
public func grouped(_ value: Double) -> String {
    let digits = Array(String(Int64(value.rounded())))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return out
}
