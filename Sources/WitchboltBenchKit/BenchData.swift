// The benchmark's data: key bytes from key numbers, a pool of random values, and the seeded
// shuffles, identical for every engine so that both see the same work in the same order.

/// A seeded generator (SplitMix64), so that every run and engine shuffles alike.
public struct BenchRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Keys, values and orders for one configuration.
public struct BenchData: Sendable {
    /// The configuration the data was made for.
    public let config: BenchConfig
    /// Random values; key `n` gets `values[n % values.count]`.
    public let values: [[UInt8]]
    /// 0..<count shuffled (the order of `rnd-insert`).
    public let insertOrder: [UInt64]
    /// 0..<count shuffled again (the order of `rnd-read`).
    public let readOrder: [UInt64]

    /// Makes the data for `config` (the shuffles of a million keys take a few milliseconds).
    public init(config: BenchConfig) {
        self.config = config
        var random = BenchRandom(seed: config.seed)
        values = (0..<4096).map { _ in (0..<config.valueSize).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        var order = (0..<UInt64(config.count)).map { $0 }
        order.shuffle(using: &random)
        insertOrder = order
        order.shuffle(using: &random)
        readOrder = order
    }

    /// The bytes of key number `n`: big-endian in the first min(8, keySize) bytes, zero padded.
    @inline(__always)
    public func key(_ n: UInt64) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: config.keySize)
        let width = min(8, config.keySize)
        for i in 0..<width { key[i] = UInt8(truncatingIfNeeded: n >> UInt64(8 * (width - 1 - i))) }
        return key
    }

    /// The value of key number `n`.
    @inline(__always)
    public func value(_ n: UInt64) -> [UInt8] { values[Int(n % UInt64(values.count))] }
}
