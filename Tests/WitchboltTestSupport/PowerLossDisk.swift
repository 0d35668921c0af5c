// A simulated disk for power-loss tests: a FileFaultInjector that keeps every write since the
// last fdatasync volatile. It records the durable image (what a sync made stable) and the
// pending writes and truncations after it; it can stop the engine at a chosen event (the Nth
// write, sync or truncate) by throwing, and then computes what the platter would hold after a
// power cut: all pending writes dropped, all kept, torn (a random prefix of 512-byte sectors
// or of pages of each), or reordered (each pending write kept or lost on its own).
//
// Shared with the fuzz package (symlinked), so it imports only Witchbolt and Foundation.
// Compiled only in debug builds, where the engine has its test hooks.

#if DEBUG
import Foundation
import Synchronization
@_spi(Testing) import Witchbolt

/// How the disk loses the writes that were not synced when the power went.
public enum PowerLossMode: String, CaseIterable, Sendable {
    /// Every unsynced write is lost.
    case dropAll
    /// Every write issued before the crash reached the platter.
    case keepAll
    /// Each unsynced write keeps a random prefix of its 512-byte sectors (the write in flight too).
    case tearSectors
    /// Each unsynced write keeps a random prefix of its pages (the write in flight too).
    case tearPages
    /// Each unsynced write is kept or lost as a whole, independently of the others.
    case reorder
}

/// The error the simulated disk throws at the crash point.
public struct SimulatedPowerLoss: Error, CustomStringConvertible {
    public let event: Int
    public var description: String { "simulated power loss at disk event \(event)" }
}

/// A disk that forgets unsynced writes on demand.
@_spi(Testing) public final class PowerLossDisk: FileFaultInjector, Sendable {
    enum Pending {
        case write(offset: Int, bytes: [UInt8])
        case truncate(size: Int)
    }

    struct State {
        var durable: [UInt8]
        var pending: [Pending] = []
        var inFlight: Pending?
        var events = 0
        var writes = 0
        var syncs = 0
        var crashAt: Int?
        var crashed = false
    }

    private let state: Mutex<State>

    /// The page size used by the `tearPages` mode.
    public let pageSize: Int

    /// A disk whose durable content is `durable` (the file as it was when the database opened),
    /// crashing at event number `crashAt` (1-based; nil: never).
    public init(durable: [UInt8], pageSize: Int, crashAt: Int? = nil) {
        self.state = Mutex(State(durable: durable, crashAt: crashAt))
        self.pageSize = pageSize
    }

    /// Writes, syncs and truncations seen so far (the crash event included).
    public var events: Int { state.withLock { $0.events } }
    /// Whether the crash point was reached.
    public var crashed: Bool { state.withLock { $0.crashed } }
    /// How many writes were pending (unsynced) at the crash, the one in flight included.
    public var pendingAtCrash: Int { state.withLock { $0.pending.count + ($0.inFlight == nil ? 0 : 1) } }

    private func event(_ s: inout State, _ op: Pending?) throws -> Bool {
        if s.crashed { throw SimulatedPowerLoss(event: s.events) }
        s.events += 1
        if s.crashAt == s.events {
            s.crashed = true
            s.inFlight = op
            throw SimulatedPowerLoss(event: s.events)
        }
        return true
    }

    public func willWrite(offset: Int64, bytes: UnsafeRawBufferPointer, fileDescriptor fd: Int32) throws {
        try state.withLock { s in
            let op = Pending.write(offset: Int(offset), bytes: Array(bytes))
            _ = try event(&s, op)
            s.writes += 1
            s.pending.append(op)
        }
    }

    public func willSync(fileDescriptor fd: Int32) throws {
        try state.withLock { s in
            _ = try event(&s, nil)
            s.syncs += 1
            // The sync makes everything written so far durable.
            for op in s.pending { Self.apply(op, to: &s.durable, keep: nil) }
            s.pending = []
        }
    }

    public func willTruncate(size: Int64, fileDescriptor fd: Int32) throws {
        try state.withLock { s in
            let op = Pending.truncate(size: Int(size))
            _ = try event(&s, op)
            s.pending.append(op)
        }
    }

    /// Applies one pending operation to an image; `keep` limits a write to its first bytes.
    static func apply(_ op: Pending, to image: inout [UInt8], keep: Int?) {
        switch op {
        case let .truncate(size):
            if size < image.count { image.removeLast(image.count - size) } else { image += [UInt8](repeating: 0, count: size - image.count) }
        case let .write(offset, bytes):
            let n = min(keep ?? bytes.count, bytes.count)
            guard n > 0 else { return }
            if offset + n > image.count { image += [UInt8](repeating: 0, count: offset + n - image.count) }
            image.replaceSubrange(offset..<(offset + n), with: bytes[0..<n])
        }
    }

    /// What the file holds after a power cut now, in `mode`.
    public func imageAfterPowerLoss<G: RandomNumberGenerator>(_ mode: PowerLossMode, _ rng: inout G) -> [UInt8] {
        state.withLock { s in
            var image = s.durable
            var ops = s.pending
            let tears = mode == .tearSectors || mode == .tearPages
            if tears, let inFlight = s.inFlight { ops.append(inFlight) }
            for op in ops {
                switch (mode, op) {
                case (.dropAll, _): break
                case (.keepAll, _): Self.apply(op, to: &image, keep: nil)
                case (_, .truncate):
                    // Whether the new size reached the disk is as uncertain as a write.
                    if Bool.random(using: &rng) { Self.apply(op, to: &image, keep: nil) }
                case (.reorder, _):
                    if Bool.random(using: &rng) { Self.apply(op, to: &image, keep: nil) }
                case (_, let .write(_, bytes)):
                    let unit = mode == .tearSectors ? 512 : pageSize
                    let units = (bytes.count + unit - 1) / unit
                    Self.apply(op, to: &image, keep: Int.random(in: 0...units, using: &rng) * unit)
                }
            }
            return image
        }
    }
}

/// File helpers for the power-loss tests.
public enum DiskImage {
    /// The file's bytes ([] when it does not exist).
    public static func read(_ path: String) -> [UInt8] {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) } ?? []
    }

    /// Replaces the file's content with `bytes` (through a new inode, so an old handle is unaffected).
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
#endif
