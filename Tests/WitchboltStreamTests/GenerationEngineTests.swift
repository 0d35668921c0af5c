// Generation rotation on the real engine, through every enabled backend: a commit while
// detached, a crash between a commit and its shadow write (failpoint in the stream), and a
// queue overflow each start a new generation with a snapshot, and a restore of the replica
// gives the newest state.

import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

@Suite("Stream generations on the real engine")
struct GenerationEngineTests {
    enum Fault: String, CaseIterable, Sendable, CustomStringConvertible {
        case detachedCommit, crashBeforeShadowWrite, queueOverflow
        var description: String { rawValue }
    }

    static func put(_ db: DB, _ i: Int) throws {
        try db.update { tx in
            try tx.createBucketIfNotExists(Array("a".utf8)).createBucketIfNotExists(Array("b\(i % 2)".utf8))
                .put(Array("k\(i)".utf8), [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 100 + i * 37))
        }
    }

    @Test("each fault starts a new generation with a snapshot, and a restore gives the newest state",
          arguments: TestBackend.enabled, Fault.allCases)
    func faultRotates(backend: TestBackend, fault: Fault) throws {
        let dir = temporaryDirectory("gen-engine")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let client = try backend.makeClient()
        let db = try DB.open(path: dir + "/data.db")
        defer { try? db.close() }
        var config = StreamConfig(shadowDirectory: dir + "/shadow", syncInterval: .milliseconds(50), replicas: [ClientReplicaConfig(client: client)])
        config.shutdownTimeout = .seconds(5)
        let source = DatabaseSnapshotSource(db: db)
        let crashAt = Mutex<UInt64>(.max)
        let gate = Mutex(true)
        let hooks = StreamHooks(beforeShadowWrite: { txID in
            while !gate.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.002) }
            return txID < crashAt.withLock { $0 }
        })
        if fault == .queueOverflow { config.queueCapacity = 2 }

        var controller = try StreamController(config: config, source: source, hooks: hooks)
        db.register(controller)
        for i in 0..<5 { try Self.put(db, i) }
        #expect(controller.flush())
        let first = try #require(controller.status().generation)

        switch fault {
        case .detachedCommit:
            db.unregister(controller)
            controller.stop()
            try Self.put(db, 100)
            controller = try StreamController(config: config, source: source)
            db.register(controller)
        case .crashBeforeShadowWrite:
            crashAt.withLock { $0 = (try? db.view { $0.id + 1 }) ?? 0 }
            try Self.put(db, 100)
            #expect(eventually { controller.shared.withLock { $0.abandoned } })
            db.unregister(controller)
            controller.abandon()
            controller = try StreamController(config: config, source: source)
            db.register(controller)
        case .queueOverflow:
            gate.withLock { $0 = false }
            for i in 100..<110 { try Self.put(db, i) }
            gate.withLock { $0 = true }
        }
        try Self.put(db, 200)
        #expect(controller.flush(timeout: .seconds(60)))
        let status = controller.status()
        #expect(status.generation != first, "\(fault): \(status.generationReason ?? "-")")
        db.unregister(controller)
        controller.stop()

        let generations = Set(try client.list(prefix: "generations/").compactMap { ArtefactKey.parse($0.key)?.generation.rawValue })
        // At least the first and the new one (a burst of commits can overflow the tiny queue
        // of the overflow case more than once).
        #expect(generations.count >= 2, "\(generations.sorted())")
        if fault != .queueOverflow { #expect(generations.count == 2, "\(generations.sorted())") }
        let newest = try #require(generations.max())
        let snapshots = try client.list(prefix: "generations/\(newest)/snapshots/")
        #expect(!snapshots.isEmpty, "the new generation starts with a snapshot")
        let output = dir + "/restored.db"
        let result = try #require(try Restorer.restore(from: [client], options: RestoreOptions(outputPath: output)))
        #expect(result.generation.rawValue == newest)
        #expect(result.txID == (try db.view { $0.id }))
        #expect(try exportFile(output).export == (try db.view { try $0.exportString() }))
    }
}
