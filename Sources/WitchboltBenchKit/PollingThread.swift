// A background thread that runs a sampling step every few milliseconds until stopped: the
// memory sampler (RssAnon) and the lag tracker (confirmed txid) both poll this way, off the
// benchmark's own thread.

import Foundation
import Synchronization

/// Calls a step on its own thread every `interval`, from `start` until `stop`.
final class PollingThread: Sendable {
    private let name: String
    private let micros: UInt32
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    /// A poller named `name` (for debuggers) that will step every `interval`.
    init(name: String, interval: Duration) {
        self.name = name
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        self.micros = UInt32(max(0, seconds * 1e6))
    }

    /// Starts the thread, calling `step` until ``stop()``.
    func start(_ step: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                step()
                usleep(micros)
            }
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Stops the thread and waits until its current step has ended.
    func stop() {
        stopped.store(true, ordering: .releasing)
        done.wait()
    }
}
