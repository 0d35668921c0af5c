import Testing
import Witchbolt
import WitchboltTestSupport

@Suite struct SmokeTests {
    @Test func createPutGetReopen() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.db")
        do {
            let db = try DB.open(path: path)
            try db.update { tx in
                let b = try tx.createBucket("users")
                try b.put("alice", "admin")
                try b.put("bob", "user")
                let n = try b.createBucket("nested")
                try n.put("k", "v")
            }
            #expect(try db.view { try $0.bucket("users")?.get("alice") } == "admin")
            #expect(try db.checkProblems() == [])
            try db.close()
        }
        let db = try DB.open(path: path)
        #expect(try db.view { try $0.bucket("users")?.bucket("nested")?.get("k") } == "v")
        try db.update { tx in
            let b = try tx.bucket("users")!
            for i in 0..<5000 { try b.put("key\(i)", String(repeating: "x", count: i % 300)) }
        }
        try db.update { tx in
            let b = try tx.bucket("users")!
            for i in stride(from: 0, to: 5000, by: 2) { try b.delete("key\(i)") }
        }
        #expect(try db.view { try $0.bucket("users")?.get("key1") } == "x")
        #expect(try db.view { try $0.bucket("users")?.get("key2") } == nil)
        #expect(try db.checkProblems() == [])
        try db.close()
    }
}
