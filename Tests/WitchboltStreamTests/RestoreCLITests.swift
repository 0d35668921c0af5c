// The artefact commands end to end, through the built `witchbolt` binary: restore with
// --json and the if-options, verify's exit status, the listings.

import Foundation
import Testing
@testable import WitchboltStream

/// Runs the `witchbolt` binary built beside the tests; returns (status, stdout, stderr).
func runWitchbolt(_ arguments: [String]) throws -> (Int32, String, String) {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let binary = root.appendingPathComponent(".build/debug/witchbolt")
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

@Suite("Artefact commands")
struct RestoreCLITests {
    @Test("restore, verify, generations, snapshots and segments through the binary")
    func commands() throws {
        var replica = try SyntheticReplica("cli")
        defer { replica.cleanUp() }
        try replica.snapshot()
        try replica.segment(3)
        try replica.segment(2)
        let url = "file://" + replica.directory

        // Listings.
        let (gStatus, gOut, _) = try runWitchbolt(["generations", url, "--json"])
        #expect(gStatus == 0)
        let generations = try JSONSerialization.jsonObject(with: Data(gOut.utf8)) as? [[String: Any]]
        #expect(generations?.first?["generation"] as? String == replica.writer.generation.rawValue)
        #expect(generations?.first?["restorableTxid"] as? Int == Int(replica.db.txID))
        let (sStatus, sOut, _) = try runWitchbolt(["segments", replica.directory, "--generation", replica.writer.generation.rawValue])
        #expect(sStatus == 0)
        #expect(sOut.contains("2-4") && sOut.contains("5-6"), "\(sOut)")
        let (pStatus, pOut, _) = try runWitchbolt(["snapshots", url])
        #expect(pStatus == 0 && pOut.contains(replica.writer.generation.rawValue))
        let (badStatus, _, badErr) = try runWitchbolt(["snapshots", url, "--generation", "nope"])
        #expect(badStatus == 1 && badErr.contains("no generation"))

        // Verify: sound, then damaged.
        #expect(try runWitchbolt(["verify", url]).0 == 0)

        // Restore: a random-page image fails the engine's check, so it is refused and nothing is left.
        let output = restoreOutput()
        let (rStatus, _, rErr) = try runWitchbolt(["restore", "-o", output, "--txid", "4", url])
        #expect(rStatus == 1)
        #expect(rErr.contains("consistency") || rErr.contains("does not open"), "\(rErr)")
        #expect(directoryEntries(of: output).isEmpty)

        // if-replica-exists on an empty replica, and argument errors.
        let empty = NSTemporaryDirectory() + "cli-empty-\(UUID().uuidString)"
        let (eStatus, eOut, _) = try runWitchbolt(["restore", "-o", output, "--if-replica-exists", "--json", empty])
        #expect(eStatus == 0 && eOut.contains("\"restored\" : false"), "\(eOut)")
        #expect(try runWitchbolt(["restore", "-o", output, "--txid", "1", "--timestamp", "2026-01-01T00:00:00Z", url]).0 != 0)
        #expect(try runWitchbolt(["restore", "-o", output, "--timestamp", "yesterday", url]).0 != 0)

        var bytes = try replica.client.read(key: replica.segmentKeys[0])
        bytes[bytes.count - 9] ^= 1
        try replica.client.write(key: replica.segmentKeys[0], from: .bytes(bytes))
        let (vStatus, vOut, _) = try runWitchbolt(["verify", url])
        #expect(vStatus == 1)
        #expect(vOut.contains(replica.segmentKeys[0]), "\(vOut)")
    }

    @Test("restore of a real database through the binary, to the latest txid and to a time")
    func realDatabase() throws {
        let replica = try RealReplica("cli real database", commitsAfterSnapshot: 5)
        defer { replica.cleanUp() }
        let url = "file://" + replica.directory + "/replica"
        let output = replica.directory + "/restored.db"
        let (status, out, err) = try runWitchbolt(["restore", "-o", output, "--json", url])
        #expect(status == 0, "\(err)")
        let json = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        #expect(json?["txid"] as? Int == Int(replica.records.last!.txID))
        let restored = try RealReplica.export(of: output)
        #expect(restored.export == replica.exports[replica.records.last!.txID])
        // Again without --if-db-not-exists: the existing output is an error and stays as it was.
        #expect(try runWitchbolt(["restore", "-o", output, url]).0 == 1)
        #expect(try runWitchbolt(["restore", "-o", output, "--if-db-not-exists", url]).0 == 0)
        // To the time of the third record.
        let third = replica.records[2]
        let timed = replica.directory + "/timed.db"
        let (tStatus, _, tErr) = try runWitchbolt(["restore", "-o", timed, "--timestamp", formatMillis(third.timestampMillis), url])
        #expect(tStatus == 0, "\(tErr)")
        let atTime = try RealReplica.export(of: timed)
        #expect(atTime.txID >= third.txID)
        #expect(atTime.export == replica.exports[atTime.txID])
    }
}
