// Licensed under the Apache License, Version 2.0.
//
// The controller's status: per replica, what it holds and how far behind it is, and the
// data-loss window (the largest lag). The same value is returned by
// `StreamController.status()`, written every sync interval to `SHADOW/status.json` (so
// `witchbolt status SHADOW_DIR` can print it from another process), and fed to metrics.

import Foundation

/// What one replica holds and how far behind it is.
public struct ReplicaStatus: Sendable, Codable, Equatable {
    /// The replica's credential-free description, e.g. `file:///backups`.
    public var name: String
    /// The generation of the last artefact it received.
    public var generation: String?
    /// The last txid it holds.
    public var lastTxID: UInt64?
    /// The commit time of the oldest commit it does not hold yet (nil when caught up).
    public var oldestUnshippedMillis: Int64?
    /// How long ago that commit was made: this replica's data-loss window (0 when caught up).
    public var lagMillis: Int64
    /// Sealed artefacts waiting to be shipped to it.
    public var pendingArtefacts: Int
    /// The last failure, if the last attempt failed.
    public var lastError: String?
    /// When the last failure happened.
    public var lastErrorAtMillis: Int64?
    /// When the last artefact was shipped.
    public var lastSuccessAtMillis: Int64?
    /// Bytes shipped since start.
    public var bytesShipped: Int64
    /// Objects shipped since start.
    public var objectsShipped: Int
    /// Failed attempts since start.
    public var errors: Int
    /// Retries since start.
    public var retries: Int
}

/// The stream's status.
public struct StreamStatus: Sendable, Codable, Equatable {
    /// The database's id (in every artefact header).
    public var databaseID: String
    /// The generation being written.
    public var generation: String?
    /// The last commit the stream received.
    public var lastTxID: UInt64?
    /// Why the current generation started.
    public var generationReason: String?
    /// Generations started since the controller started.
    public var generationsStarted: Int
    /// Commits dropped by a full queue since start (each answered with a new generation).
    public var droppedCommits: Int
    /// The last shadow-directory failure, if any.
    public var shadowError: String?
    /// The largest lag over the replicas, in milliseconds.
    public var dataLossWindowMillis: Int64
    /// When this status was taken.
    public var updatedAtMillis: Int64
    /// Every replica.
    public var replicas: [ReplicaStatus]
}

/// Reads and writes `SHADOW/status.json`.
enum StatusFile {
    static func write(_ status: StreamStatus, to path: String) throws {
        try ShadowFileIO.writeAtomically(try ShadowLog.encode(status), to: path, sync: false)
    }

    /// Reads the status file of the shadow directory `shadowDirectory`.
    static func read(shadowDirectory: String) throws -> StreamStatus {
        let path = ShadowLog(root: shadowDirectory).statusPath
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StreamError(.notFound, "\(path): no status file (is the stream running with this shadow directory?)")
        }
        do {
            return try JSONDecoder().decode(StreamStatus.self, from: data)
        } catch {
            throw StreamError(.io, "\(path): unreadable status file: \(error)")
        }
    }
}

extension StreamStatus {
    /// Reads the status a running (or stopped) controller left in `shadowDirectory`.
    public static func read(shadowDirectory: String) throws -> StreamStatus {
        try StatusFile.read(shadowDirectory: shadowDirectory)
    }

    /// A human-readable report, one line per replica.
    public func formatted(nowMillis: Int64? = nil) -> String {
        var lines: [String] = []
        lines.append("database   \(databaseID)")
        lines.append("generation \(generation ?? "-")\(generationReason.map { " (\($0))" } ?? "")")
        lines.append("last txid  \(lastTxID.map(String.init) ?? "-")")
        lines.append("data-loss window \(Self.format(millis: dataLossWindowMillis))")
        if let nowMillis {
            lines.append("updated    \(Self.format(millis: max(0, nowMillis - updatedAtMillis))) ago")
        }
        if droppedCommits > 0 { lines.append("dropped commits \(droppedCommits) (queue overflow)") }
        if let shadowError { lines.append("shadow error: \(shadowError)") }
        for r in replicas {
            var line = "replica \(r.name): txid \(r.lastTxID.map(String.init) ?? "-"), lag \(Self.format(millis: r.lagMillis)), \(r.pendingArtefacts) pending, \(r.objectsShipped) shipped (\(r.bytesShipped) bytes), \(r.errors) errors"
            if let error = r.lastError { line += ", last error: \(error)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// A duration in milliseconds for people: "850 ms", "12.3 s".
    public static func format(millis: Int64) -> String {
        millis < 1000 ? "\(millis) ms" : String(format: "%.1f s", Double(millis) / 1000)
    }
}
