// The README's replication example, compiled and run (with a file replica in place of S3),
// so the README stays true to the code.

import Foundation
import Testing
import Witchbolt
import WitchboltStream
import WitchboltTestSupport

@Suite("README example")
struct ReadmeExampleTests {
    @Test("the README's replication example opens, replicates and restores")
    func readmeExample() throws {
        let dir = TemporaryDirectory("readme")
        // As in the README, but the S3 URL is only parsed, not used.
        _ = try ReplicaFactory.config(url: "s3://bucket/myapp?region=eu-west-1")
        var options = DB.Options()
        options.pageFlushObservers = [
            Stream.observer(StreamConfig(
                shadowDirectory: dir.file("stream"),
                replicas: [FileReplicaConfig(path: dir.file("backups"))]))
        ]
        let db = try DB.open(path: dir.file("data.db"), options: options)
        try db.update { tx in try tx.createBucketIfNotExists("users").put("alice", "admin") }
        let export = try db.exportString()
        try db.close()

        let client = try FileReplicaConfig(path: dir.file("backups")).makeClient()
        var restore = RestoreOptions(outputPath: dir.file("restored.db"))
        restore.parallelism = 2
        let result = try Restorer.restore(from: [client], options: restore)
        #expect(result != nil)
        let restored = try DB.open(path: dir.file("restored.db"))
        #expect(try restored.exportString() == export)
        #expect(try restored.checkProblems() == [])
        try restored.close()
    }
}
