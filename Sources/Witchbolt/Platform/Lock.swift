// Licensed under the Apache License, Version 2.0.
//
// A mutex and condition variable that can be held across calls (the writer lock is taken by
// `begin(writable:)` and released by `commit()` or `rollback()`), which the closure-scoped
// `Synchronization.Mutex` cannot do. The corresponding calls are pthread_mutex_* and
// pthread_cond_*.

#if canImport(Glibc)
import Glibc
#endif

final class Lock: @unchecked Sendable {
    // @unchecked Sendable because the pthread mutex is the synchronisation itself; its storage
    // is allocated once and never moves.
    let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always)
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

final class Condition: @unchecked Sendable {
    // @unchecked Sendable because the pthread condition is used only with its lock held.
    let cond: UnsafeMutablePointer<pthread_cond_t>
    let lock: Lock

    init(lock: Lock = Lock()) {
        self.lock = lock
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
    }

    /// Waits (the lock held) until signalled or `nanoseconds` pass; returns false on timeout.
    @discardableResult
    func wait(nanoseconds: UInt64? = nil) -> Bool {
        guard let nanoseconds else {
            pthread_cond_wait(cond, lock.mutex)
            return true
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let total = UInt64(now.tv_nsec) + nanoseconds % 1_000_000_000
        var deadline = timespec()
        deadline.tv_sec = now.tv_sec + Int(nanoseconds / 1_000_000_000) + Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        return pthread_cond_timedwait(cond, lock.mutex, &deadline) == 0
    }

    func signal() { pthread_cond_signal(cond) }
    func broadcast() { pthread_cond_broadcast(cond) }
}
