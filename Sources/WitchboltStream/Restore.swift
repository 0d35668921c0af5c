// Licensed under the Apache License, Version 2.0.
//
// Restore: rebuild a database file from replicas. Pick the freshest replica (the one whose
// plan reaches the highest txid; an unreachable replica is skipped with a warning when
// another works), plan the generation, snapshot and segments, then build the file beside
// the output and publish it only once it is complete, checked and durable (RestoreApply.swift).

import Logging

/// What a restore does, and how.
public struct RestoreOptions: Sendable {
    /// Where the database is written. It must not exist (see `ifDBNotExists`).
    public var outputPath: String
    /// Restore exactly this txid (mutually exclusive with `targetTimestampMillis`).
    public var targetTxID: UInt64?
    /// Restore the last commit at or before this time (ms since the Unix epoch).
    public var targetTimestampMillis: Int64?
    /// If the output exists, do nothing and return nil (instead of `.databaseExists`).
    public var ifDBNotExists = false
    /// If no replica holds a generation, do nothing and return nil (instead of `.noGeneration`).
    public var ifReplicaExists = false
    /// How many segments are downloaded ahead of the one being applied.
    public var parallelism = 4
    /// Called with progress as the restore runs (from the restoring thread).
    public var progress: (@Sendable (RestoreProgress) -> Void)?
    /// Open the result with the engine (read-only) and run its consistency check before
    /// publishing it. Only images that are not databases (synthetic tests) turn this off.
    public var runConsistencyCheck = true
    /// The largest database a restore will build; a high-water mark past it is refused as
    /// corrupt (it protects the disk from a damaged or hostile replica).
    public var maxDatabaseBytes: UInt64 = 1 << 40

    /// Options restoring the latest state to `outputPath`.
    public init(outputPath: String) {
        self.outputPath = outputPath
    }
}

/// How far a restore has come.
public struct RestoreProgress: Sendable {
    /// The restore's current step.
    public enum Phase: String, Sendable {
        case planning, snapshot, segments, checking, done
    }

    public var phase: Phase
    /// Bytes downloaded so far and in total (as listed).
    public var bytesDone: Int64
    public var bytesTotal: Int64
    /// The txid reached so far, and the txid the plan expects to reach.
    public var txID: UInt64
    public var expectedTxID: UInt64
}

/// What a restore produced.
public struct RestoreResult: Sendable, Equatable {
    /// The replica restored from.
    public var replica: String
    public var generation: Generation
    public var databaseID: String
    /// The snapshot started from.
    public var snapshotTxID: UInt64
    /// The txid restored and its commit time.
    public var txID: UInt64
    public var timestampMillis: Int64
    public var pageSize: Int
    public var highWaterMark: UInt64
    /// The whole-database checksum of the restored file.
    public var databaseChecksum: UInt64
    public var segmentsApplied: Int
    public var recordsApplied: Int
    public var bytesDownloaded: Int64
    /// The output path.
    public var path: String
}

/// Restores databases from replicas.
public enum Restorer {
    static let logger = Logger(label: "witchbolt.stream.restore")

    /// Restores from the freshest of `replicas`; returns what was restored (nil when skipped by an if-option).
    public static func restore(from replicas: [any ReplicaClient], options: RestoreOptions) throws -> RestoreResult? {
        // Check what was asked before touching any replica.
        guard !replicas.isEmpty else {
            throw StreamError(.invalidConfiguration, "restore needs at least one replica")
        }
        guard !options.outputPath.isEmpty else {
            throw StreamError(.invalidConfiguration, "restore needs an output path")
        }
        guard options.targetTxID == nil || options.targetTimestampMillis == nil else {
            throw StreamError(.invalidConfiguration, "restore takes a target txid or a target time, not both")
        }
        if LocalFS.exists(options.outputPath) {
            if options.ifDBNotExists { return nil }
            throw StreamError(.databaseExists, "\(options.outputPath) already exists; restore never overwrites a database")
        }
        // Plan on every replica; the freshest plan wins, unreachable replicas are skipped.
        options.progress?(RestoreProgress(phase: .planning, bytesDone: 0, bytesTotal: 0, txID: 0, expectedTxID: 0))
        var plans: [RestorePlan] = []
        var failures: [(String, any Error)] = []
        for client in replicas {
            do {
                if let plan = try plan(client: client, targetTxID: options.targetTxID, targetTimestampMillis: options.targetTimestampMillis) {
                    plans.append(plan)
                }
            } catch {
                failures.append((client.description, error))
            }
        }
        guard !plans.isEmpty else {
            // Generations exist but none covers the target: say so.
            if let (_, error) = failures.first(where: { ($0.1 as? StreamError)?.code == .noSnapshot }) { throw error }
            // A replica that could not be read may hold data: never take that for "empty".
            if let (_, error) = failures.first { throw error }
            if options.ifReplicaExists { return nil }
            throw StreamError(.noGeneration, "no generation on \(replicas.map(\.description).joined(separator: ", ")): nothing to restore")
        }
        for (replica, error) in failures {
            logger.warning("restore: skipping replica \(replica): \(error)")
        }
        // Freshest first; a replica that becomes unreachable mid-way hands over to the next.
        // Damage is never papered over with older data: it ends the restore.
        let ranked = plans.sorted { ($0.expectedTxID, $0.lastCommitMillis) > ($1.expectedTxID, $1.lastCommitMillis) }
        var firstError: (any Error)?
        for plan in ranked {
            logger.info("restore: from \(plan.catalog.client.description) generation \(plan.generation.generation) snapshot txid \(plan.snapshot.txID) to txid \(plan.expectedTxID)")
            do {
                return try RestoreExecution(plan: plan, options: options).run()
            } catch let error as StreamError where error.isTransient && plan.catalog.client !== ranked.last!.catalog.client {
                logger.warning("restore: replica \(plan.catalog.client.description) failed (\(error)); trying the next freshest")
                firstError = firstError ?? error
            }
        }
        throw firstError ?? StreamError(.unavailable, "no replica could be restored from")
    }
}
