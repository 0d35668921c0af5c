// Licensed under the Apache License, Version 2.0. After witchbolt's stream/factory.go, without
// its double registration (the Go `Observer` registered the controller itself and had Open
// register it again, so every commit arrived twice and started a new generation).
//
// The public entry points: `Stream.observer(config)` gives one entry of
// `DB.Options.pageFlushObservers` (restore-on-open in its prepare step, the controller
// started with the opened database, stopped when the database closes); `Stream.attach(to:)`
// starts a controller on a database that is already open.

import Foundation
import Synchronization
import Witchbolt

/// A handle on the controller a registration starts, for its status and lag.
public final class StreamHandle: Sendable {
    private let box = Mutex<StreamController?>(nil)

    /// Creates an empty handle; the registration fills it when the database opens.
    public init() {}

    /// The running controller (nil before the database opened it).
    public var controller: StreamController? { box.withLock { $0 } }

    func set(_ controller: StreamController?) { box.withLock { $0 = controller } }
}

/// Witchbolt Stream: continuous replication of a database to its replicas.
public enum Stream {
    /// A page-flush observer registration that replicates the database it is given to.
    ///
    /// For example:
    /// ```swift
    /// var options = DB.Options()
    /// options.pageFlushObservers = [Stream.observer(config)]
    /// let db = try DB.open(path: path, options: options)
    /// ```
    /// The registration registers its controller exactly once (the engine does it with the
    /// observer `start` returns). With `config.restore.enabled`, a missing database file is
    /// restored from the replicas before the engine opens or creates it. A read-only open
    /// starts no controller.
    public static func observer(_ config: StreamConfig, handle: StreamHandle = StreamHandle()) -> PageFlushObserverRegistration {
        let restored = Mutex(false)
        return PageFlushObserverRegistration(
            prepare: { path in
                guard config.restore.enabled else { return }
                let didRestore = try RestoreOnOpen.run(path: path, config: config)
                restored.withLock { $0 = didRestore }
            },
            start: { db in
                // A read-only open never commits: nothing to replicate.
                if db.isReadOnly { return nil }
                let controller = try StreamController(
                    config: config, source: DatabaseSnapshotSource(db: db),
                    justRestored: restored.withLock { $0 })
                handle.set(controller)
                return controller
            },
            close: {
                handle.controller?.stop()
            })
    }

    /// Starts replicating a database that is already open. Stop with
    /// ``StreamController/detach()``, which unregisters the controller and flushes.
    public static func attach(to db: DB, config: StreamConfig) throws -> StreamController {
        let controller = try StreamController(config: config, source: DatabaseSnapshotSource(db: db))
        db.register(controller)
        controller.setDetachAction { [weak controller] in
            if let controller { db.unregister(controller) }
        }
        return controller
    }
}
