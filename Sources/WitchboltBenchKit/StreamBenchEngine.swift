// Witchbolt with Stream on, behind the benchmark's protocol: each database opens with a stream
// controller (shadow log beside the file, one replica), every commit's txid goes to a lag
// tracker, and `finishWrites` waits until the replica holds every commit and returns the lag
// figures. Used by `witchbolt-bench --replicate` (a replica per database, under the URL given)
// and by `witchbolt bench --replicate` (the URL as given).

import Foundation
import Synchronization
import Witchbolt
import WitchboltStream

/// The Witchbolt engine with every commit streamed to a replica.
public struct StreamBenchEngine: BenchEngine {
    /// The replica URL (file:///dir, s3://, sftp://, nats://).
    public let replicaURL: String
    /// Give each database its own replica under `replicaURL` (`<file>-<pid>-<n>`), so that one
    /// URL serves every workload and run; false: replicate to `replicaURL` itself.
    public var replicaPerDatabase: Bool
    /// Keep the shadow directories and the replicas' objects when a database closes.
    public var keep: Bool
    /// How often the lag tracker reads the confirmed txid. Every 5 ms: polling every
    /// millisecond cost durable commits 8-10% on a 2-vCPU VM by itself (11.5% and 13.2%
    /// replication overhead against -5.7% and 4.0% at 5 ms, the same build), which the
    /// benchmark then charged to Stream; lags are 100 ms and more (segments seal every
    /// second), so 5 ms is resolution enough.
    public var lagInterval: Duration = .milliseconds(5)
    /// When the stream syncs its open-segment log (the stream's default: on seal).
    public var shadowLogSync: ShadowLogSync = .onSeal
    /// How artefacts are compressed (the stream's default: zstd level 3).
    public var compression: CompressionCodec = .default
    /// The directory the shadow directories go in (nil: beside each database file), e.g. on
    /// another disk than the database, as an operator may place it.
    public var shadowParent: String?

    private static let opened = Atomic<Int>(0)

    /// The engine; throws when `replicaURL` is not a replica URL.
    public init(replicaURL: String, replicaPerDatabase: Bool, keep: Bool) throws {
        _ = try ReplicaFactory.config(url: replicaURL)
        self.replicaURL = replicaURL
        self.replicaPerDatabase = replicaPerDatabase
        self.keep = keep
    }

    public var name: String { "witchbolt+stream" }
    public var replicates: Bool { true }

    public func open(path: String, config: BenchConfig) throws -> any BenchStore {
        // A fresh shadow log and, with replicaPerDatabase, a fresh replica for every open.
        let shadow = shadowParent.map { "\($0)/\((path as NSString).lastPathComponent)-stream" } ?? path + "-stream"
        try? FileManager.default.removeItem(atPath: shadow)
        var url = replicaURL
        if replicaPerDatabase {
            let n = Self.opened.wrappingAdd(1, ordering: .relaxed).newValue
            url = Self.url(replicaURL, appending: "\((path as NSString).lastPathComponent)-\(getpid())-\(n)")
        }
        let replica = try ReplicaFactory.config(url: url)
        let handle = StreamHandle()
        let engine = WitchboltBenchEngine(observers: [Stream.observer(StreamConfig(shadowDirectory: shadow, compression: compression, shadowLogSync: shadowLogSync, replicas: [replica]), handle: handle)])
        let store = try engine.openStore(path: path, config: config)
        guard let controller = handle.controller else {
            try? store.close()
            throw BenchError("\(path): the stream did not start")
        }
        return StreamBenchStore(store: store, controller: controller, replica: replica, shadow: shadow, keep: keep, lagInterval: lagInterval)
    }

    public func files(path: String) -> [String] { [path] }

    /// `url` with `/component` added to its path (before any `?query`), e.g. a replica per database.
    public static func url(_ url: String, appending component: String) -> String {
        let end = url.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? url.endIndex
        var base = String(url[..<end])
        while base.hasSuffix("/") && !base.hasSuffix("://") { base.removeLast() }
        return base + "/" + component + String(url[end...])
    }
}

/// A Witchbolt database streaming to a replica, noting each commit for the lag figures.
final class StreamBenchStore: BenchStore {
    private let store: WitchboltBenchStore
    private let controller: StreamController
    private let replica: any ReplicaConfig
    private let shadow: String
    private let keep: Bool
    private var tracker: LagTracker?

    init(store: WitchboltBenchStore, controller: StreamController, replica: any ReplicaConfig, shadow: String, keep: Bool, lagInterval: Duration) {
        self.store = store
        self.controller = controller
        self.replica = replica
        self.shadow = shadow
        self.keep = keep
        let tracker = LagTracker(interval: lagInterval) { [controller] in controller.confirmedTxID }
        self.tracker = tracker
        store.onCommit = { tracker.committed($0) }
    }

    func insert(_ keys: ArraySlice<UInt64>, data: BenchData) throws { try store.insert(keys, data: data) }
    func read(_ keys: [UInt64], data: BenchData) throws -> Int { try store.read(keys, data: data) }
    func scan() throws -> Int { try store.scan() }

    /// Waits (up to ten minutes) until the replica holds every commit, then returns the lag
    /// of each commit since the database opened (the first call only).
    func finishWrites() throws -> ReplicationLag? {
        guard let tracker else { return nil }
        self.tracker = nil
        store.onCommit = nil
        let caughtUp = controller.flush(timeout: .seconds(600))
        var lag = tracker.finish()
        guard caughtUp else { throw BenchError("\(replica.description): the replica did not catch up within 10 minutes") }
        // Whether the stream kept up: every queue overflow drops commits and starts a generation.
        let status = controller.status()
        lag?.generations = status.generationsStarted
        lag?.droppedCommits = status.droppedCommits
        return lag
    }

    func close() throws {
        _ = tracker?.finish()
        tracker = nil
        try store.close()
        guard !keep else { return }
        try? FileManager.default.removeItem(atPath: shadow)
        try? ReplicaCleanup.remove(replica)
    }
}

/// Removes what the benchmark wrote to a replica.
enum ReplicaCleanup {
    /// Deletes every object of `replica` (and, for a file replica, its directory).
    static func remove(_ replica: any ReplicaConfig) throws {
        if let file = replica as? FileReplicaConfig {
            try FileManager.default.removeItem(atPath: file.path)
            return
        }
        let client = try replica.makeClient()
        defer { client.close() }
        let keys = try client.list(prefix: "").map(\.key)
        if !keys.isEmpty { try client.delete(keys: keys) }
    }
}
