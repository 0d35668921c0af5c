// Licensed under the Apache License, Version 2.0.
//
// Where artefacts live on a replica, relative to its root (every backend, same layout):
//   generations/GEN/snapshots/TXID.snapshot
//   generations/GEN/segments/MINTXID-MAXTXID.segment
// with txids as 16 lowercase hex digits, so a plain sorted listing is in txid order.

/// Builds and parses replica keys of artefacts.
public enum ArtefactKey {
    /// A parsed artefact key.
    public enum Parsed: Sendable, Equatable, Hashable {
        /// `generations/GEN/snapshots/TXID.snapshot`
        case snapshot(Generation, txID: UInt64)
        /// `generations/GEN/segments/MIN-MAX.segment`
        case segment(Generation, minTxID: UInt64, maxTxID: UInt64)

        /// The generation the artefact belongs to.
        public var generation: Generation {
            switch self {
            case .snapshot(let g, _), .segment(let g, _, _): g
            }
        }
    }

    /// The prefix under which every generation lives.
    public static let generationsPrefix = "generations/"

    /// The prefix of one generation's artefacts.
    public static func generationPrefix(_ generation: Generation) -> String {
        generationsPrefix + generation.rawValue + "/"
    }

    /// The key of the snapshot of `generation` at `txID`.
    public static func snapshot(_ generation: Generation, txID: UInt64) -> String {
        generationPrefix(generation) + "snapshots/" + hex(txID, digits: 16) + ".snapshot"
    }

    /// The key of the segment of `generation` holding txids `minTxID...maxTxID`.
    public static func segment(_ generation: Generation, minTxID: UInt64, maxTxID: UInt64) -> String {
        generationPrefix(generation) + "segments/" + hex(minTxID, digits: 16) + "-" + hex(maxTxID, digits: 16) + ".segment"
    }

    /// Parses a key; nil for anything that is not exactly an artefact key (foreign files,
    /// temporary files, malformed names).
    public static func parse(_ key: String) -> Parsed? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "generations", let generation = Generation(rawValue: String(parts[1])) else {
            return nil
        }
        let file = parts[3]
        switch parts[2] {
        case "snapshots":
            guard file.hasSuffix(".snapshot"), let txID = parseTxID(file.dropLast(9)) else { return nil }
            return .snapshot(generation, txID: txID)
        case "segments":
            guard file.hasSuffix(".segment") else { return nil }
            let range = file.dropLast(8).split(separator: "-", omittingEmptySubsequences: false)
            guard range.count == 2, let min = parseTxID(range[0]), let max = parseTxID(range[1]), min <= max else {
                return nil
            }
            return .segment(generation, minTxID: min, maxTxID: max)
        default:
            return nil
        }
    }

    private static func parseTxID(_ s: Substring) -> UInt64? {
        guard s.utf8.count == 16, s.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            return nil
        }
        return UInt64(s, radix: 16)
    }
}
