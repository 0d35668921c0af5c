// Licensed under the Apache License, Version 2.0. After witchbolt's stream/config.go, with
// every field acted on (the Go stream declared several it never read).
//
// The stream controller's configuration: where the shadow log lives, how often segments are
// sealed and snapshots taken, how long history is kept, how artefacts are compressed, where
// they are shipped, when lag is worth a warning, and whether a missing database file is
// restored from the replicas before the engine opens it.

import Foundation

/// The configuration of a stream controller.
///
/// For example:
/// ```swift
/// var options = DB.Options()
/// options.pageFlushObservers = [
///     Stream.observer(StreamConfig(
///         shadowDirectory: "/var/lib/myapp/stream",
///         snapshotInterval: .seconds(300),
///         compression: .zstd(level: 6),
///         replicas: [FileReplicaConfig(path: "/backups")]))
/// ]
/// let db = try DB.open(path: "/var/lib/myapp/data.db", options: options)
/// ```
public struct StreamConfig: Sendable {
    /// How long history is kept, on the replicas and in the shadow directory.
    public struct Retention: Sendable {
        /// Snapshots newer than this are kept (plus the newest one, and the one at or before
        /// the start of the window, so point-in-time restores inside the window have no gaps).
        public var window: Duration
        /// How often retention runs.
        public var checkInterval: Duration

        /// Creates a retention policy (24 hours, checked hourly, by default).
        public init(window: Duration = .seconds(24 * 3600), checkInterval: Duration = .seconds(3600)) {
            self.window = window
            self.checkInterval = checkInterval
        }
    }

    /// What to do when the database file is missing at open.
    public struct RestoreOnOpen: Sendable {
        /// Restore the missing file from the freshest replica before the engine creates it.
        public var enabled: Bool
        /// When no replica can be reached: create an empty database (true) or fail the open
        /// with a clear error (false, the default: better no database than a silently empty one).
        public var startEmptyWhenUnreachable: Bool

        /// Creates the restore-on-open options (off by default).
        public init(enabled: Bool = false, startEmptyWhenUnreachable: Bool = false) {
            self.enabled = enabled
            self.startEmptyWhenUnreachable = startEmptyWhenUnreachable
        }
    }

    /// The local directory of the shadow log: sealed segments and snapshots waiting to be
    /// shipped, the controller's state, and `status.json`. One per database.
    public var shadowDirectory: String
    /// How often a full snapshot starts a fresh base for restores (each generation also starts with one).
    public var snapshotInterval: Duration
    /// How long history is kept.
    public var retention: Retention
    /// How segments and snapshots are compressed (zstd level 3 by default); one setting for all artefacts.
    public var compression: CompressionCodec
    /// How often the open segment is sealed and shipped (the data-loss window's floor).
    public var syncInterval: Duration
    /// A segment is sealed early once its records hold this many bytes.
    public var segmentSizeLimit: Int
    /// When the open segment's log (`SHADOW/open.log`) is made durable: `.onSeal` (the
    /// default: never on the commit path) or `.everyBatch` (one fdatasync per batch of
    /// commits; fewer snapshots after a power loss, slower durable commits). See ``ShadowLogSync``.
    public var shadowLogSync: ShadowLogSync
    /// How many committed transactions may wait for the shadow writer. Past it, commits are
    /// not slowed: the stream drops what it cannot hold and starts a new generation.
    public var queueCapacity: Int
    /// How many bytes of frames may wait for the shadow writer (same policy as `queueCapacity`).
    public var queueByteCapacity: Int
    /// The most bytes of unshipped artefacts the shadow directory may hold (a replica down for
    /// long). Past it, unshipped artefacts are dropped and shipping resumes with a new generation.
    public var shadowDirectoryLimit: Int64
    /// Where artefacts are shipped.
    public var replicas: [any ReplicaConfig]
    /// A warning is logged while the data-loss window exceeds this (nil: never).
    public var dataLossWindowThreshold: Duration?
    /// How long stopping the controller waits for the replicas to receive what is sealed.
    public var shutdownTimeout: Duration
    /// Restore-on-open.
    public var restore: RestoreOnOpen
    /// The first retry delay after a failed upload; it doubles up to `maxRetryDelay`.
    public var initialRetryDelay: Duration
    /// The longest retry delay.
    public var maxRetryDelay: Duration
    /// The clock intervals and lag are measured with.
    public var clock: StreamClock

    /// Creates a configuration; every setting but the shadow directory has a default.
    public init(
        shadowDirectory: String,
        snapshotInterval: Duration = .seconds(6 * 3600),
        retention: Retention = Retention(),
        compression: CompressionCodec = .zstd(level: 3),
        syncInterval: Duration = .seconds(1),
        segmentSizeLimit: Int = 16 << 20,
        shadowLogSync: ShadowLogSync = .onSeal,
        queueCapacity: Int = 4096,
        queueByteCapacity: Int = 256 << 20,
        shadowDirectoryLimit: Int64 = 4 << 30,
        replicas: [any ReplicaConfig] = [],
        dataLossWindowThreshold: Duration? = nil,
        shutdownTimeout: Duration = .seconds(10),
        restore: RestoreOnOpen = RestoreOnOpen(),
        initialRetryDelay: Duration = .milliseconds(200),
        maxRetryDelay: Duration = .seconds(60),
        clock: StreamClock = .continuous
    ) {
        self.shadowDirectory = shadowDirectory
        self.snapshotInterval = snapshotInterval
        self.retention = retention
        self.compression = compression
        self.syncInterval = syncInterval
        self.segmentSizeLimit = segmentSizeLimit
        self.shadowLogSync = shadowLogSync
        self.queueCapacity = queueCapacity
        self.queueByteCapacity = queueByteCapacity
        self.shadowDirectoryLimit = shadowDirectoryLimit
        self.replicas = replicas
        self.dataLossWindowThreshold = dataLossWindowThreshold
        self.shutdownTimeout = shutdownTimeout
        self.restore = restore
        self.initialRetryDelay = initialRetryDelay
        self.maxRetryDelay = maxRetryDelay
        self.clock = clock
    }

    /// The codec artefacts are written with: a zstd level outside zstd's range is mapped to
    /// the nearest level it has (1...22; levels below 1 mean zstd's fast modes, kept down to -7).
    var effectiveCodec: CompressionCodec {
        switch compression {
        case .none: return .none
        case .zstd(let level): return .zstd(level: level == 0 ? 3 : min(22, max(-7, level)))
        }
    }

    /// Checks the settings that have no sensible fallback.
    func validate() throws {
        guard !shadowDirectory.isEmpty else {
            throw StreamError(.invalidConfiguration, "the stream's shadow directory is not set")
        }
        guard syncInterval > .zero, snapshotInterval > .zero, retention.checkInterval > .zero else {
            throw StreamError(.invalidConfiguration, "stream intervals must be positive (sync \(syncInterval), snapshot \(snapshotInterval), retention check \(retention.checkInterval))")
        }
        guard queueCapacity > 0, segmentSizeLimit > 0 else {
            throw StreamError(.invalidConfiguration, "the stream's queue capacity and segment size limit must be positive")
        }
    }
}
