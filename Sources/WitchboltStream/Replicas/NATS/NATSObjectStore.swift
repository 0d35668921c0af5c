// Licensed under the Apache License, Version 2.0.
//
// The object store operations on one live connection: put, get (whole, streamed, or a byte
// range that fetches only the chunks covering it), list from the meta subjects alone, and
// delete. The protocol itself is described in NATSObjectStoreProtocol.swift. Nothing here
// retries: a transient `NATSFailure` goes up to `NATSReplicaClient`, which backs off,
// reconnects if needed and runs the whole operation again.

import Crypto
import Foundation
import Logging

/// The object store of one bucket, bound to a connection.
struct NATSObjectStore {
    let connection: NATSConnection
    let layout: NATSObjectStoreLayout
    let stream: NATSStreamSummary
    let counters: NATSReplicaCounterBox
    /// How long to wait for the next message of a consumer.
    let waitMilliseconds: Int64
    private static let logger = Logger(label: "witchbolt.stream.nats")

    // MARK: Meta

    /// The current meta of `name`, deleted or not; nil when the name was never written.
    func info(name: String) throws -> NATSObjectInfo? {
        guard let message = try connection.lastMessage(stream: layout.stream, subject: layout.metaSubject(name: name), direct: stream.allowsDirectGet) else {
            return nil
        }
        counters.add(\.metaMessagesRead, 1)
        do {
            return try NATSObjectInfo.decode(message.data)
        } catch {
            throw StreamError(.corruptArtefact, "nats bucket \(layout.bucket): the meta of object \(name) is not valid JSON: \(error)")
        }
    }

    /// The live meta of `name`; `.notFound` when missing or deleted.
    func requireInfo(name: String) throws -> NATSObjectInfo {
        guard let info = try info(name: name), !info.isDeleted else {
            throw StreamError(.notFound, "nats bucket \(layout.bucket): object \(name) not found")
        }
        guard !info.isLink else {
            throw StreamError(.replicaError, "nats bucket \(layout.bucket): object \(name) is a link, which this replica does not follow")
        }
        guard let nuid = info.nuid, !nuid.isEmpty else {
            throw StreamError(.corruptArtefact, "nats bucket \(layout.bucket): the meta of object \(name) has no nuid")
        }
        return info
    }

    // MARK: Put

    /// Publishes `source` as the object `name` under the fresh `nuid`, then its meta.
    ///
    /// The chunks go first, on a subject no reader knows yet; the meta message is the commit
    /// point. On a failure before the meta is sent, the partial chunks are purged (by the
    /// caller's next attempt when the connection is down); after it, nothing is purged (the
    /// meta may have landed) and the caller's retry finds out.
    func put(name: String, nuid: String, source: ObjectSource, chunkSize: Int, previous: NATSObjectInfo?,
             onChunkPublished: (Int) -> Void) throws {
        // Stream the source in chunks, hashing as we go.
        let chunkSubject = layout.chunkSubject(nuid: nuid)
        var hasher = SHA256()
        var size: UInt64 = 0
        var chunks: UInt32 = 0
        do {
            try NATSChunkReader.forEachChunk(of: source, chunkSize: chunkSize) { chunk in
                hasher.update(data: chunk)
                try connection.publish(subject: chunkSubject, payload: chunk)
                counters.add(\.chunksPublished, 1)
                size += UInt64(chunk.count)
                chunks += 1
                onChunkPublished(Int(chunks))
            }
        } catch {
            // A lost connection cannot purge now; the caller's retry purges this attempt's chunks.
            if (error as? NATSFailure)?.kind != .transient {
                try? connection.purge(stream: layout.stream, subject: chunkSubject)
            }
            throw error
        }

        // Publish the meta with a subject rollup: it replaces the previous meta of the name.
        let info = NATSObjectInfo(
            name: name, bucket: layout.bucket, nuid: nuid, size: size, mtime: NATSObjectTime.now(),
            chunks: chunks, digest: NATSObjectDigest.field(hasher.finalize()),
            options: .init(maxChunkSize: chunkSize)
        )
        try connection.publish(subject: layout.metaSubject(name: name), payload: try info.encoded()[...], headers: [("Nats-Rollup", "sub")])

        // The previous instance's chunks are unreachable now; purge them.
        if let previous, !previous.isDeleted, let old = previous.nuid, !old.isEmpty, old != nuid {
            try connection.purge(stream: layout.stream, subject: layout.chunkSubject(nuid: old))
        }
    }

    // MARK: Get

    /// Hands the object's chunks, in order, to `body`, then verifies size, count and digest.
    func readChunks(of info: NATSObjectInfo, _ body: ([UInt8]) throws -> Void) throws {
        let name = info.name
        let expectedSize = info.size ?? 0
        var hasher = SHA256()
        var size: UInt64 = 0
        var chunks: UInt32 = 0
        if expectedSize > 0, info.chunks == 1 {
            // A one-chunk object (most segments) is the only message on its subject: one get,
            // no consumer to create and tear down.
            guard let message = try connection.lastMessage(stream: layout.stream, subject: layout.chunkSubject(nuid: info.nuid ?? ""), direct: stream.allowsDirectGet) else {
                throw chunksChanged(info)
            }
            counters.add(\.chunksFetched, 1)
            hasher.update(data: message.data)
            size = UInt64(message.data.count)
            chunks = 1
            try body(message.data)
        } else if expectedSize > 0 {
            let consumer = try connection.orderedConsumer(subject: layout.chunkSubject(nuid: info.nuid ?? ""), lastPerSubject: false, headersOnly: false)
            while true {
                let message = try nextMessage(consumer, expecting: info, first: chunks == 0)
                counters.add(\.chunksFetched, 1)
                hasher.update(data: message.data)
                size += UInt64(message.data.count)
                chunks += 1
                try body(message.data)
                if size >= expectedSize { break }
            }
        }
        counters.add(\.objectBodiesRead, 1)
        try verify(name: name, info: info, size: size, chunks: chunks, digest: hasher.finalize())
    }

    /// The bytes of `range` (clamped to the object's end), fetching only the chunks covering it.
    func readRange(of info: NATSObjectInfo, range: Range<Int64>) throws -> [UInt8] {
        let objectSize = Int64(info.size ?? 0)
        let lower = min(max(range.lowerBound, 0), objectSize)
        let upper = min(max(range.upperBound, lower), objectSize)
        guard lower < upper else { return [] }

        // Learn each chunk's stream sequence and size from a headers-only consumer: no payloads.
        let chunkSubject = layout.chunkSubject(nuid: info.nuid ?? "")
        let chunks = try chunkTable(of: info)

        // Fetch the chunks that overlap the range, by sequence, and cut the range out of them.
        var result: [UInt8] = []
        result.reserveCapacity(Int(upper - lower))
        var offset: Int64 = 0
        for chunk in chunks {
            let end = offset + Int64(chunk.size)
            defer { offset = end }
            if end <= lower { continue }
            if offset >= upper { break }
            guard let message = try connection.message(stream: layout.stream, sequence: chunk.sequence, direct: stream.allowsDirectGet),
                  message.subject == chunkSubject, message.data.count == chunk.size else {
                throw chunksChanged(info)
            }
            counters.add(\.chunksFetched, 1)
            let from = Int(max(lower, offset) - offset)
            let to = Int(min(upper, end) - offset)
            result += message.data[from..<to]
        }
        return result
    }

    /// The stream sequence and size of every chunk of the object, in order.
    func chunkTable(of info: NATSObjectInfo) throws -> [(sequence: UInt64, size: Int)] {
        let consumer = try connection.orderedConsumer(subject: layout.chunkSubject(nuid: info.nuid ?? ""), lastPerSubject: false, headersOnly: true)
        var table: [(sequence: UInt64, size: Int)] = []
        var total: UInt64 = 0
        while true {
            let message = try nextMessage(consumer, expecting: info, first: table.isEmpty)
            table.append((message.streamSequence, message.payloadSize))
            total += UInt64(message.payloadSize)
            if total >= info.size ?? 0 { break }
        }
        guard total == info.size ?? 0, info.chunks.map({ Int($0) == table.count }) ?? true else {
            throw StreamError(.corruptArtefact, "nats bucket \(layout.bucket): object \(info.name) has \(table.count) chunks of \(total) bytes, its meta says \(info.chunks ?? 0) of \(info.size ?? 0)")
        }
        return table
    }

    // MARK: List and delete

    /// Every live object whose name starts with `namePrefix`, from the meta subjects only.
    func list(namePrefix: String) throws -> [NATSObjectInfo] {
        var found: [String: NATSObjectInfo] = [:]
        try forEachLatestMeta { message in
            if let info = try? NATSObjectInfo.decode(message.data), info.name.hasPrefix(namePrefix) {
                found[info.name] = info.isDeleted ? nil : info
            }
        }
        return Array(found.values)
    }

    /// Hands `body` the latest meta message of every object in the bucket, in stream order.
    ///
    /// The walk ends when the server says nothing is pending and the walk has passed the newest
    /// meta that existed when it began. The pending count alone is not trusted: it counts
    /// messages that a concurrent purge then removes (a nats-py listing, which waits for zero,
    /// was seen waiting forever on the busy test bucket), and listings that stopped at zero
    /// pending were seen missing recent objects under load. So a zero pending before that
    /// sequence is ignored, past it a short silence ends the walk too, and a later meta of a
    /// name replaces an earlier one.
    private func forEachLatestMeta(_ body: (NATSDeliveredMessage) throws -> Void) throws {
        // An empty bucket delivers nothing at all: ask for the newest meta first.
        guard let newest = try connection.lastMessage(stream: layout.stream, subject: layout.allMetaSubjects, direct: false) else {
            return
        }
        let consumer = try connection.orderedConsumer(subject: layout.allMetaSubjects, lastPerSubject: true, headersOnly: false)
        var highest: UInt64 = 0
        while true {
            let passedNewest = highest >= newest.sequence
            let message: NATSDeliveredMessage
            do {
                message = try consumer.next(timeoutMilliseconds: passedNewest ? min(500, waitMilliseconds) : waitMilliseconds)
            } catch let failure as NATSFailure where failure.kind == .transient && highest > 0 && connection.isConnected {
                // Past the newest meta, silence means the end. Before it, the newest meta may
                // have been purged meanwhile: if nothing newer than what we saw exists, we are done.
                if passedNewest { return }
                let now = try connection.lastMessage(stream: layout.stream, subject: layout.allMetaSubjects, direct: false)
                if (now?.sequence ?? 0) <= highest { return }
                throw failure
            }
            counters.add(\.metaMessagesRead, 1)
            try body(message)
            highest = max(highest, message.streamSequence)
            if message.pending == 0 && highest >= newest.sequence { return }
            if message.pending == 0 { Self.logger.debug("nats replica: zero pending before the newest meta", metadata: ["seen": "\(highest)", "newest": "\(newest.sequence)"]) }
        }
    }

    /// Writes a delete marker for `name` and purges its chunks; a missing name is fine.
    func delete(name: String) throws {
        guard var info = try info(name: name) else { return }
        if !info.isDeleted {
            info.deleted = true
            info.size = 0
            info.chunks = 0
            info.digest = nil
            info.mtime = NATSObjectTime.now()
            try connection.publish(subject: layout.metaSubject(name: name), payload: try info.encoded()[...], headers: [("Nats-Rollup", "sub")])
        }
        // Purge even when the marker was already there: an earlier delete may have died between the two.
        if let nuid = info.nuid, !nuid.isEmpty {
            try connection.purge(stream: layout.stream, subject: layout.chunkSubject(nuid: nuid))
        }
    }

    /// Purges the delete markers of names starting with `namePrefix` stored before `cutoff`
    /// (nanoseconds since 1970); returns how many. A marker is purged only up to its own
    /// sequence, so a name written again meanwhile keeps its new meta.
    func purgeDeleteMarkers(namePrefix: String, storedBefore cutoff: Int64) throws -> Int {
        var markers: [String: (sequence: UInt64, purge: Bool)] = [:]
        try forEachLatestMeta { message in
            guard let info = try? NATSObjectInfo.decode(message.data), info.name.hasPrefix(namePrefix) else { return }
            markers[message.subject] = (message.streamSequence, info.isDeleted && message.timestamp < cutoff)
        }
        let purged = markers.filter { $0.value.purge }
        for (subject, marker) in purged {
            try connection.purge(stream: layout.stream, subject: subject, before: marker.sequence + 1)
        }
        return purged.count
    }

    // MARK: Helpers

    /// The next chunk message; when the very first one does not come, tells a vanished object
    /// (overwritten or deleted meanwhile: retry) from chunks that are simply missing (corrupt).
    private func nextMessage(_ consumer: NATSOrderedConsumer, expecting info: NATSObjectInfo, first: Bool) throws -> NATSDeliveredMessage {
        do {
            return try consumer.next(timeoutMilliseconds: waitMilliseconds)
        } catch let failure as NATSFailure where first && failure.kind == .transient && connection.isConnected {
            let subject = layout.chunkSubject(nuid: info.nuid ?? "")
            if try connection.lastMessage(stream: layout.stream, subject: subject, direct: false) == nil {
                throw chunksChanged(info)
            }
            throw failure
        }
    }

    /// The error for chunks that disappeared under us: transient if the object was replaced.
    private func chunksChanged(_ info: NATSObjectInfo) -> any Error {
        if let current = try? self.info(name: info.name), current.nuid != info.nuid || current.isDeleted {
            return NATSFailure(kind: .transient, call: "read", text: "object \(info.name) was replaced while being read", apiCode: 0)
        }
        return StreamError(.corruptArtefact, "nats bucket \(layout.bucket): the chunks of object \(info.name) are missing")
    }

    private func verify(name: String, info: NATSObjectInfo, size: UInt64, chunks: UInt32, digest: SHA256.Digest) throws {
        guard size == info.size ?? 0, info.chunks.map({ $0 == chunks }) ?? true else {
            throw StreamError(.corruptArtefact, "nats bucket \(layout.bucket): object \(name) read \(chunks) chunks of \(size) bytes, its meta says \(info.chunks ?? 0) of \(info.size ?? 0)")
        }
        if let field = info.digest, !field.isEmpty {
            guard let expected = NATSObjectDigest.bytes(ofField: field) else {
                throw StreamError(.corruptArtefact, "nats bucket \(layout.bucket): object \(name) has an unreadable digest \(field)")
            }
            guard expected == Array(digest) else {
                throw StreamError(.corruptArtefact, "nats bucket \(layout.bucket): object \(name) does not match its SHA-256 digest")
            }
        }
    }
}

/// Splits an object source into chunks without holding a file in memory.
enum NATSChunkReader {
    static func forEachChunk(of source: ObjectSource, chunkSize: Int, _ body: (ArraySlice<UInt8>) throws -> Void) throws {
        switch source {
        case .bytes(let bytes):
            var start = 0
            while start < bytes.count {
                let end = min(start + chunkSize, bytes.count)
                try body(bytes[start..<end])
                start = end
            }
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw StreamError(.io, "cannot open \(path) for reading")
            }
            defer { try? handle.close() }
            while true {
                let data: Data?
                do {
                    data = try handle.read(upToCount: chunkSize)
                } catch {
                    throw StreamError(.io, "cannot read \(path): \(error)")
                }
                guard let data, !data.isEmpty else { return }
                try body(Array(data)[...])
            }
        }
    }
}
