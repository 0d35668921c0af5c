// Licensed under the Apache License, Version 2.0.
//
// Restore-on-open: the registration's `prepare` step, which the engine runs BEFORE it opens,
// locks or creates the database file (the Go stream ran its restore after Open had already
// created the file, so it never restored anything). When the file is missing:
//
// - a replica holds data: the freshest one is restored into place (Restorer.restore), and
//   the stream then starts a new generation;
// - replicas answer but hold nothing: nothing is restored, the engine creates a new database;
// - no replica answers: the open fails with a clear error, unless the configuration allows
//   starting empty (a node that silently starts empty next to a full backup is worse).

import Foundation
import Logging

/// The restore-on-open step.
enum RestoreOnOpen {
    /// Restores `path` from the replicas when it is missing; returns whether it restored.
    static func run(path: String, config: StreamConfig) throws -> Bool {
        let logger = Logger(label: "witchbolt.stream.restore")
        guard !ShadowFileIO.fileExists(path) else { return false }
        guard !config.replicas.isEmpty else { return false }

        // Find out which replicas answer and which hold a generation with a snapshot.
        var reachable: [any ReplicaClient] = []
        var withData: [any ReplicaClient] = []
        var failures: [String] = []
        for replica in config.replicas {
            do {
                let client = try replica.makeClient()
                let objects = try client.list(prefix: ArtefactKey.generationsPrefix)
                reachable.append(client)
                let hasSnapshot = objects.contains { object in
                    if case .snapshot = ArtefactKey.parse(object.key) { return true }
                    return false
                }
                if hasSnapshot { withData.append(client) }
            } catch {
                failures.append("\(replica.description): \(error)")
                logger.warning("restore-on-open: cannot reach replica \(replica.description): \(error)")
            }
        }

        if !withData.isEmpty {
            var options = RestoreOptions(outputPath: path)
            options.ifDBNotExists = true
            let result = try Restorer.restore(from: withData, options: options)
            logger.notice("restore-on-open: restored \(path) from the replicas: \(result.map { "\($0)" } ?? "nothing to restore")")
            for client in reachable { client.close() }
            return result != nil
        }
        for client in reachable { client.close() }
        if !reachable.isEmpty {
            logger.info("restore-on-open: \(path) is missing and the replicas hold no data: a new database is created")
            return false
        }
        if config.restore.startEmptyWhenUnreachable {
            logger.warning("restore-on-open: \(path) is missing and no replica could be reached; starting with an empty database as configured")
            return false
        }
        throw StreamError(.unavailable, "restore-on-open: \(path) is missing and no replica could be reached (\(failures.joined(separator: "; "))); refusing to create an empty database (set restore.startEmptyWhenUnreachable to allow it)")
    }
}
