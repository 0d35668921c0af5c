// The operation-sequence fuzz target: the fuzzer's bytes are the random source for a short
// run of transactions (puts, deletes, nested buckets, sequences, rollbacks) through the
// power-loss harness, each checked against the reference model, with some commits crashed
// at a disk event the bytes choose. Any failure the harness reports is a crash (a finding).

import Foundation
@_spi(Testing) import Witchbolt

/// A random source that reads the fuzzer's bytes, one byte per draw; once they run out, a
/// fixed SplitMix64 stream (never a constant: `random(in:)` rejects some values and would spin).
public struct ByteSource: RandomNumberGenerator {
    let bytes: [UInt8]
    var index = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var isExhausted: Bool { index >= bytes.count }
    public mutating func next() -> UInt64 {
        guard index < bytes.count else {
            index += 1
            var z = UInt64(index) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        defer { index += 1 }
        // Spread one byte over the word so that `random(in:)` maps it proportionally.
        return UInt64(bytes[index]) &* 0x0101_0101_0101_0101
    }
}

/// Runs the transactions the input describes; traps on any harness failure.
public func fuzzOperations(_ input: UnsafeRawBufferPointer) {
    var source = ByteSource(Array(input))
    let path = scratchDirectory + "/ops.db"
    try? FileManager.default.removeItem(atPath: path)
    defer { try? FileManager.default.removeItem(atPath: path) }

    var options = DB.Options()
    options.pageSize = Bool.random(using: &source) ? 1024 : 4096
    options.freelistType = Bool.random(using: &source) ? .array : .hashmap
    guard var harness = try? CrashHarness(path: path, options: options) else { fatalError("cannot create \(path)") }
    harness.modes = [.dropAll, .keepAll, .tearSectors, .reorder]
    let generator = WorkloadGenerator(keySpace: 64, maxValueSize: 2000, maxDepth: 3)
    var model = ModelBucket()
    var t = 0
    while !source.isExhausted && t < 8 {
        let count = Int.random(in: 1...24, using: &source)
        var ops: [ModelOp] = []
        var scratch = model
        for _ in 0..<count {
            let op = generator.next(model: scratch, &source)
            _ = op.apply(to: &scratch)
            ops.append(op)
        }
        let rollback = Int.random(in: 0..<8, using: &source) == 0
        let crash = Int.random(in: 0..<256, using: &source)
        do {
            try harness.run(ops, rollback: rollback, label: "fuzz tx \(t)", crashEvents: { n in
                crash < 128 ? [] : [1 + (crash - 128) % max(n, 1)]
            }, &source)
        } catch {
            fatalError("harness error: \(error)")
        }
        if let failure = harness.failures.first { fatalError("power-loss harness failure: \(failure)") }
        if !rollback { model = scratch }
        t += 1
    }
}
