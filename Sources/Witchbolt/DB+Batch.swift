// Licensed under the Apache License, Version 2.0. Port of bbolt's db.go (Batch, batch, trySolo).
//
// Batching coalesces the write transactions of concurrent callers into one commit: the first
// caller opens a batch and waits up to `maxBatchDelay` for others (or until `maxBatchSize`
// calls have joined), then runs every call in one transaction. If a call throws, the batch
// is re-run without it, and that call runs alone in a transaction of its own, so its error
// is its own. As in bbolt, a call may therefore run more than once: it must be idempotent.

extension DB {
    final class Batch: @unchecked Sendable {
        // @unchecked Sendable because every field is guarded by the database's batch lock.
        var calls: [@Sendable (Tx) throws -> Void] = []
        var results: [Result<Void, any Error>?] = []
        var solo: Set<Int> = []
        var started = false
        var finished = false
    }

    /// Runs `body` in a write transaction shared with concurrent `batch` callers.
    ///
    /// - Important: `body` may run more than once (when another call in its batch fails);
    ///   it must be idempotent. The call returns when the shared transaction has committed.
    /// - Throws: what `body` throws, or the commit's errors.
    public func batch(_ body: @escaping @Sendable (Tx) throws -> Void) throws {
        let (batch, index, isLeader) = joinBatch(body)
        if isLeader { runBatch(batch) }
        let result: Result<Void, any Error>? = batchLock.withLock {
            while !batch.finished { batchCondition.wait() }
            return batch.solo.contains(index) ? nil : batch.results[index]
        }
        if let result { return try result.get() }
        // This call failed inside the batch: run it alone, so its error is its own.
        try update { tx in try body(tx) }
    }

    private func joinBatch(_ body: @escaping @Sendable (Tx) throws -> Void) -> (Batch, Int, Bool) {
        batchLock.withLock {
            if let current = currentBatch, !current.started, current.calls.count < options.maxBatchSize {
                current.calls.append(body)
                current.results.append(nil)
                if current.calls.count >= options.maxBatchSize { batchCondition.broadcast() }
                return (current, current.calls.count - 1, false)
            }
            let batch = Batch()
            batch.calls = [body]
            batch.results = [nil]
            currentBatch = batch
            return (batch, 0, true)
        }
    }

    private func runBatch(_ batch: Batch) {
        // Wait for more callers, up to the delay or the size limit.
        let delay = options.maxBatchDelay.components
        let nanoseconds = UInt64(delay.seconds) * 1_000_000_000 + UInt64(delay.attoseconds / 1_000_000_000)
        let deadline = ContinuousClock.now + options.maxBatchDelay
        let calls: [@Sendable (Tx) throws -> Void] = batchLock.withLock {
            while batch.calls.count < options.maxBatchSize && ContinuousClock.now < deadline {
                batchCondition.wait(nanoseconds: nanoseconds)
            }
            batch.started = true
            if currentBatch === batch { currentBatch = nil }
            return batch.calls
        }

        // Run the calls in one transaction; on a failure, drop the failing call and retry.
        var remaining = Array(calls.indices)
        var outcome: Result<Void, any Error> = .success(())
        var solo: Set<Int> = []
        while !remaining.isEmpty {
            var failed: Int?
            do {
                try update { tx in
                    for i in remaining {
                        do { try calls[i](tx) } catch {
                            failed = i
                            throw error
                        }
                    }
                }
                outcome = .success(())
                break
            } catch {
                guard let failed else {
                    outcome = .failure(error)
                    break
                }
                solo.insert(failed)
                remaining.removeAll { $0 == failed }
            }
        }
        batchLock.withLock {
            for i in calls.indices { batch.results[i] = outcome }
            batch.solo = solo
            batch.finished = true
            batchCondition.broadcast()
        }
    }
}
