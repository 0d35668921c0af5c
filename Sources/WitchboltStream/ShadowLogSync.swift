// Licensed under the Apache License, Version 2.0.
//
// When the shadow directory's open-segment log (`SHADOW/open.log`) is made durable. The log
// only saves a snapshot after a power loss: observers run after the database's meta page is
// durable, so the database always holds every commit the stream has seen, and a restart
// continues the generation only if the database is exactly at the log's last record (same
// txid, same whole-database checksum). A log that lost its unsynced tail no longer matches,
// and the stream starts a new generation with a snapshot: no commit is lost either way.
//
// Syncing the log after every batch costs durable commits dearly (each commit's two
// fdatasyncs of the database compete with a third one), so the default syncs it only where
// it changes meaning: when a generation ends and when the stream stops. Its records become
// durable when they are sealed into a segment; the truncation after a seal is synced with
// the log's next sync (ShadowOpenLog.reset).

import Foundation

/// When the stream makes its open-segment log (`SHADOW/open.log`) durable.
///
/// Either way no commit is ever lost: the database holds every commit the stream has seen,
/// and a log that does not match the database after a crash only costs a new generation
/// (one full snapshot shipped to every replica).
public enum ShadowLogSync: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Sync the log only when a new generation starts and when the stream stops: never on
    /// the commit path. Its records become durable when they are sealed into a segment
    /// (every sync interval, or at the segment size limit). A process
    /// crash loses nothing (the records are in the page cache); after a power loss or OS
    /// crash the log may miss its last records, and the stream then starts a new generation
    /// with a snapshot. The default.
    case onSeal = "on-seal"
    /// Sync the log (one fdatasync) after every batch of commits the shadow writer takes:
    /// after a power loss the generation goes on without a snapshot, as long as the
    /// database's last commit reached the log. Costs durable commits a third fdatasync
    /// competing with the database's own (about 60% more time per durable commit on ext4).
    case everyBatch = "every-batch"

    /// The policy's name, as the command line and configuration spell it.
    public var description: String { rawValue }

    /// Parses a policy name (`on-seal` or `every-batch`); throws `invalidConfiguration`
    /// naming the choices otherwise.
    public init(parsing text: String) throws {
        guard let policy = ShadowLogSync(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
            let choices = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw StreamError(.invalidConfiguration, "unknown shadow log sync policy '\(text)' (expected one of: \(choices))")
        }
        self = policy
    }
}
