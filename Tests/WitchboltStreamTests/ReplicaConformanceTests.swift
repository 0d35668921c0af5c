// One conformance suite for every replica backend: the contract of `ReplicaClient` checked
// against the real server each backend talks to (a directory, SeaweedFS, OpenSSH's sshd,
// nats-server with JetStream). A backend is done when it passes all of this.

import Foundation
import Testing
import WitchboltStream

@Suite("Replica conformance")
struct ReplicaConformanceTests {
    static let backends = TestBackend.allCases

    @Test("write then read returns the same bytes; a rewrite replaces them", arguments: backends)
    func writeThenRead(_ backend: TestBackend) throws {
        try withClient(backend) { client in
            let small: [UInt8] = Array("hello, replica".utf8)
            try client.write(key: "a/b/small.bin", from: .bytes(small))
            #expect(try client.read(key: "a/b/small.bin") == small)

            let empty: [UInt8] = []
            try client.write(key: "empty.bin", from: .bytes(empty))
            #expect(try client.read(key: "empty.bin") == empty)

            var rng = SystemRandomNumberGenerator()
            let large = (0..<(700 * 1024)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try client.write(key: "large.bin", from: .bytes(large))
            #expect(try client.read(key: "large.bin") == large)
            var streamed: [UInt8] = []
            try client.read(key: "large.bin") { streamed += $0 }
            #expect(streamed == large)
        }
    }

    @Test("a file source is streamed whole", arguments: backends)
    func writeFromFile(_ backend: TestBackend) throws {
        try withClient(backend) { client in
            let bytes = (0..<(300 * 1024 + 17)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let path = NSTemporaryDirectory() + "conformance-\(UUID().uuidString)"
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            defer { try? FileManager.default.removeItem(atPath: path) }
            try client.write(key: "from-file.bin", from: .file(path: path))
            #expect(try client.read(key: "from-file.bin") == bytes)
        }
    }

    @Test("a range read returns exactly the bytes asked for, clamped at the end", arguments: backends)
    func rangeRead(_ backend: TestBackend) throws {
        try withClient(backend) { client in
            let bytes = (0..<(400 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            try client.write(key: "ranged.bin", from: .bytes(bytes))
            #expect(try client.read(key: "ranged.bin", range: 0..<10) == Array(bytes[0..<10]))
            #expect(try client.read(key: "ranged.bin", range: 150_000..<290_001) == Array(bytes[150_000..<290_001]))
            #expect(try client.read(key: "ranged.bin", range: 409_000..<500_000) == Array(bytes[409_000...]))
        }
    }

    @Test("a missing object is notFound, on read, range read and delete", arguments: backends)
    func missingObject(_ backend: TestBackend) throws {
        try withClient(backend) { client in
            #expect(throws: StreamError.self) { try client.read(key: "nope/missing.bin") }
            do {
                _ = try client.read(key: "nope/missing.bin")
            } catch let error as StreamError {
                #expect(error.code == .notFound, "\(error)")
            }
            do {
                _ = try client.read(key: "nope/missing.bin", range: 0..<4)
                Issue.record("a range read of a missing object succeeded")
            } catch let error as StreamError {
                #expect(error.code == .notFound, "\(error)")
            }
            try client.delete(keys: ["nope/missing.bin"])
            #expect(try client.list(prefix: "nope/").isEmpty)
        }
    }

    @Test("delete removes exactly the keys given", arguments: backends)
    func deleteObjects(_ backend: TestBackend) throws {
        try withClient(backend) { client in
            for i in 0..<5 { try client.write(key: "d/\(i).bin", from: .bytes([UInt8(i)])) }
            try client.delete(keys: ["d/1.bin", "d/3.bin"])
            #expect(try client.list(prefix: "d/").map(\.key) == ["d/0.bin", "d/2.bin", "d/4.bin"])
            #expect(throws: StreamError.self) { try client.read(key: "d/1.bin") }
        }
    }

    @Test("listing is sorted, filtered by prefix, sized, and complete past one page", arguments: backends)
    func listing(_ backend: TestBackend) throws {
        try withClient(backend) { client in
            let count = backend == .file ? 1_100 : 1_050
            for i in 0..<count {
                try client.write(key: String(format: "generations/g1/segments/%016llx.segment", i), from: .bytes([UInt8](repeating: 1, count: i % 5)))
            }
            try client.write(key: "generations/g2/snapshots/0000000000000001.snapshot", from: .bytes([9, 9]))
            let listed = try client.list(prefix: "generations/g1/")
            #expect(listed.count == count)
            #expect(listed.map(\.key) == listed.map(\.key).sorted())
            #expect(listed[7] == ObjectInfo(key: String(format: "generations/g1/segments/%016llx.segment", 7), size: 2))
            #expect(try client.list(prefix: "generations/g2/") == [ObjectInfo(key: "generations/g2/snapshots/0000000000000001.snapshot", size: 2)])
            #expect(try client.list(prefix: "generations/").count == count + 1)
            try client.delete(keys: listed.map(\.key))
            #expect(try client.list(prefix: "generations/g1/").isEmpty)
        }
    }

    @Test("keys with spaces, +, =, ~ and UTF-8 round-trip", arguments: backends)
    func unusualKeys(_ backend: TestBackend) throws {
        try withClient(backend) { client in
            let keys = ["odd/a b.bin", "odd/a+b=c.bin", "odd/tilde~x.bin", "odd/é-ü-ß-日本.bin"]
            for (i, key) in keys.enumerated() { try client.write(key: key, from: .bytes([UInt8(i), 42])) }
            for (i, key) in keys.enumerated() { #expect(try client.read(key: key) == [UInt8(i), 42], "\(key)") }
            #expect(Set(try client.list(prefix: "odd/").map(\.key)) == Set(keys))
            try client.delete(keys: keys)
            #expect(try client.list(prefix: "odd/").isEmpty)
        }
    }

    @Test("concurrent writers of different keys all land", arguments: backends)
    func concurrentWriters(_ backend: TestBackend) throws {
        try withClient(backend) { client in
            let failures = Failures()
            DispatchQueue.concurrentPerform(iterations: 8) { worker in
                do {
                    for i in 0..<6 {
                        try client.write(key: "c/\(worker)-\(i).bin", from: .bytes([UInt8](repeating: UInt8(worker), count: 1000 + i)))
                    }
                } catch {
                    failures.add("\(error)")
                }
            }
            #expect(failures.all.isEmpty, "\(failures.all)")
            let listed = try client.list(prefix: "c/")
            #expect(listed.count == 48)
            for info in listed {
                let worker = Int(info.key.dropFirst(2).prefix { $0 != "-" })!
                #expect(try client.read(key: info.key).allSatisfy { $0 == UInt8(worker) })
            }
        }
    }

    /// Runs `body` with a client on a fresh prefix; the prefix is cleaned afterwards.
    private func withClient(_ backend: TestBackend, _ body: (any ReplicaClient) throws -> Void) throws {
        guard backend.isEnabled else { return }
        let client = try backend.makeClient()
        defer { client.close() }
        try body(client)
        let leftovers = try client.list(prefix: "")
        if !leftovers.isEmpty { try client.delete(keys: leftovers.map(\.key)) }
    }
}

/// Collects errors from concurrent workers.
final class Failures: @unchecked Sendable {
    // @unchecked Sendable because `items` is only touched under `lock`.
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
