// Licensed under the Apache License, Version 2.0.
//
// Parallel, ordered downloads for restore: up to `parallelism` objects are fetched ahead of
// the one being applied, on worker threads, and handed out strictly in order. Memory stays
// bounded by `parallelism` objects (segments are small; snapshots are streamed elsewhere).
// Transient failures are retried with backoff before they reach the caller.

import Dispatch
import Logging
import Synchronization

/// Downloads a list of keys ahead of their use, in parallel, handing them out in order.
final class RestorePrefetcher: Sendable {
    private let client: any ReplicaClient
    private let keys: [String]
    private let results: Mutex<[Int: Result<[UInt8], any Error>]>
    private let ready: [DispatchSemaphore]
    private let window: DispatchSemaphore
    private let cancelled = Atomic<Bool>(false)
    private let group = DispatchGroup()
    private let parallelism: Int

    /// Starts downloading `keys` from `client`, at most `parallelism` ahead of the consumer.
    init(client: any ReplicaClient, keys: [String], parallelism: Int) {
        self.client = client
        self.keys = keys
        self.parallelism = max(1, parallelism)
        self.results = Mutex([:])
        self.ready = keys.map { _ in DispatchSemaphore(value: 0) }
        self.window = DispatchSemaphore(value: max(1, parallelism))
        let queue = DispatchQueue(label: "witchbolt.stream.restore.prefetch", attributes: .concurrent)
        group.enter()
        DispatchQueue.global().async { [self] in
            defer { group.leave() }
            // Hand out one download per free slot of the window, in key order.
            for index in keys.indices {
                window.wait()
                if cancelled.load(ordering: .acquiring) { return }
                group.enter()
                queue.async { [self] in
                    defer { group.leave() }
                    let result = Result { try Self.fetch(client, keys[index], cancelled) }
                    results.withLock { $0[index] = result }
                    ready[index].signal()
                }
            }
        }
    }

    /// The bytes of key number `index`; call with 0, 1, 2... in order.
    func take(_ index: Int) throws -> [UInt8] {
        ready[index].wait()
        let result = results.withLock { $0.removeValue(forKey: index) }!
        window.signal()
        return try result.get()
    }

    /// Stops further downloads and waits for those in flight.
    func finish() {
        cancelled.store(true, ordering: .releasing)
        for _ in 0..<(parallelism + 1) { window.signal() }
        group.wait()
    }

    /// Reads one object, retrying transient failures.
    static func fetch(_ client: any ReplicaClient, _ key: String, _ cancelled: borrowing Atomic<Bool>) throws -> [UInt8] {
        try withRetries(key: key, isCancelled: { cancelled.load(ordering: .relaxed) }) { try client.read(key: key) }
    }

    /// Runs `body`, retrying transient `StreamError`s: 3 attempts, 200 ms then 400 ms apart.
    static func withRetries<R>(key: String, isCancelled: () -> Bool = { false }, _ body: () throws -> R) throws -> R {
        var delay = 200
        var attempt = 1
        while true {
            do {
                return try body()
            } catch let error as StreamError where error.isTransient && attempt < 3 && !isCancelled() {
                Restorer.logger.warning("restore: \(key): \(error); retrying in \(delay) ms")
                usleepMillis(delay)
                delay *= 2
                attempt += 1
            }
        }
    }
}

/// Sleeps for `millis` milliseconds.
func usleepMillis(_ millis: Int) {
    let semaphore = DispatchSemaphore(value: 0)
    _ = semaphore.wait(timeout: .now() + .milliseconds(millis))
}
