// What the engine's subcommands share: opening a database read-only (inspection never
// changes a byte of the file), the exit codes, and printing to standard error.
//
// Exit codes: 0 success; 1 the answer is "no" (check found problems, a bucket or key does not
// exist); 2 the file cannot be opened or read (missing, not a database, corrupt meta pages,
// a page that cannot be decoded), or the command cannot do its work.

import ArgumentParser
import Witchbolt

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exit codes of the engine's subcommands.
enum EngineExit {
    /// The answer is "no": problems found, or the bucket or key is not there.
    static let notFound = ExitCode(1)
    /// The file cannot be opened or read, or the command failed.
    static let failure = ExitCode(2)
}

/// Writes `message` and a newline to standard error.
func printError(_ message: String) {
    var line = message
    line += "\n"
    var bytes = Array(line.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { break }
        offset += n
    }
}

/// Writes `text` to standard output with no newline added (used for large outputs).
func writeOut(_ text: String) {
    print(text, terminator: "")
}

/// Opens `path` read-only with a short lock timeout, or prints why not and exits with 2.
///
/// A read-only open takes a shared lock, never creates, grows or writes the file, and never
/// rewrites a missing free list.
func openReadOnly(_ path: String) throws -> DB {
    var options = DB.Options()
    options.readOnly = true
    options.timeout = .seconds(5)
    do {
        return try DB.open(path: path, options: options)
    } catch {
        printError("witchbolt: cannot open \(path): \(error)")
        throw EngineExit.failure
    }
}

/// Runs `body` in a read transaction of the database at `path` and closes it; any engine
/// error (a corrupt page on the way) is printed and exits with 2.
func withReadTransaction<R>(_ path: String, _ body: (Tx) throws -> R) throws -> R {
    let db = try openReadOnly(path)
    defer { try? db.close() }
    do {
        return try db.view(body)
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("witchbolt: \(path): \(error)")
        throw EngineExit.failure
    }
}

/// Follows `names` from the root to a nested bucket, or prints which one is missing and exits with 1.
func resolveBucket(_ tx: Tx, _ names: [[UInt8]], describe: ([UInt8]) -> String) throws -> Bucket {
    var bucket = tx.rootBucket
    for name in names {
        guard let child = try bucket.bucket(name) else {
            printError("witchbolt: bucket not found: \(describe(name))")
            throw EngineExit.notFound
        }
        bucket = child
    }
    return bucket
}

/// The size of the file at `path` in bytes, or nil.
func fileSize(_ path: String) -> Int64? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return Int64(st.st_size)
}
