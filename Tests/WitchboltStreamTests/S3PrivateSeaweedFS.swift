// A private SeaweedFS for the tests that must stop, kill or restart a server, or start one
// with settings of their own (HTTPS, a virtual-host domain): `weed mini` from
// WITCHBOLT_WEED_BIN, on free loopback ports, in a temporary directory of its own. The shared
// test server is never touched, and only this process is ever signalled.

import Foundation
import Testing
import WitchboltStream

#if canImport(Glibc)
import Glibc
#endif

/// A SeaweedFS (`weed mini`) of one test: its own directory and free loopback ports, started,
/// killed and restarted by the test. Only this process is ever signalled.
final class PrivateSeaweedFS: @unchecked Sendable {
    // @unchecked Sendable because it is driven from the test's thread only.
    static var isEnabled: Bool { TestEnvironment.value("WITCHBOLT_WEED_BIN") != nil || TestEnvironment.isCI }

    let directory: String
    let bucket = "outage"
    let accessKey = "outage-key"
    let secretKey = "outage-secret-\(UInt32.random(in: 0...UInt32.max))"
    private let binary: String
    /// master, volume, filer, s3, admin (each also uses port + 10000 for gRPC), and https.
    private let ports: [Int]
    private var process: Process?

    var endpoint: String { "http://127.0.0.1:\(ports[3])" }

    /// The host suffix of virtual-host addressing (`BUCKET.localhost`), which libcurl resolves
    /// to loopback by itself.
    let domainName = "localhost"

    /// Whether S3 is also served over HTTPS, with a self-signed certificate for 127.0.0.1.
    let tls: Bool
    /// The server's certificate (its own CA), when `tls`.
    var certificatePath: String { directory + "/cert.pem" }
    /// The HTTPS endpoint, when `tls`.
    var httpsEndpoint: String { "https://127.0.0.1:\(ports[5])" }

    init(tls: Bool = false) throws {
        binary = try TestEnvironment.require("WITCHBOLT_WEED_BIN")
        self.tls = tls
        directory = NSTemporaryDirectory() + "witchbolt-weed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let identities = #"{"identities":[{"name":"outage","credentials":[{"accessKey":"\#(accessKey)","secretKey":"\#(secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]}]}"#
        try identities.write(toFile: directory + "/identities.json", atomically: true, encoding: .utf8)
        ports = try Self.freePorts(tls ? 6 : 5)
        if tls { try makeCertificate() }
    }

    /// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl tool.
    private func makeCertificate() throws {
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", directory + "/key.pem", "-out", certificatePath, "-days", "2", "-subj", "/CN=witchbolt-test",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw StreamError(.io, "openssl could not make a test certificate") }
    }

    func config(prefix: String) -> S3ReplicaConfig {
        var config = S3ReplicaConfig(bucket: bucket, prefix: prefix, endpoint: endpoint, region: "us-east-1")
        config.addressing = .pathStyle
        config.accessKeyID = accessKey
        config.secretAccessKey = secretKey
        return config
    }

    /// Starts the server and waits until a signed listing of the bucket succeeds.
    func start() throws {
        // A killed server leaves its unix sockets behind; the new one must be able to bind them.
        for socket in ["s3.sock", "filer.sock"] { try? FileManager.default.removeItem(atPath: directory + "/" + socket) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "mini", "-dir=\(directory)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.port=\(ports[0])", "-volume.port=\(ports[1])", "-filer.port=\(ports[2])", "-s3.port=\(ports[3])",
            "-admin.port=\(ports[4])", "-s3.config=\(directory)/identities.json", "-webdav=false", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.localSocket=\(directory)/s3.sock",
            "-filer.localSocket=\(directory)/filer.sock", "-master.telemetry=false", "-bucket=\(bucket)",
            "-s3.domainName=\(domainName)",
        ]
        if tls {
            process.arguments! += [
                "-s3.port.https=\(ports[5])", "-s3.cert.file=\(certificatePath)", "-s3.key.file=\(directory)/key.pem",
            ]
        }
        _ = FileManager.default.createFile(atPath: directory + "/weed.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/weed.log"))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process

        var probe = config(prefix: "probe")
        probe.retry = .init(maxAttempts: 1)
        probe.connectTimeout = .seconds(1)
        let client = try S3ReplicaClient(config: probe)
        defer { client.close() }
        let deadline = Date().addingTimeInterval(30)
        var lastError = ""
        while Date() < deadline {
            guard process.isRunning else { throw StreamError(.unavailable, "weed mini exited; see \(directory)/weed.log") }
            do {
                _ = try client.list(prefix: "")
                return
            } catch {
                lastError = "\(error)"
                usleep(100_000)
            }
        }
        throw StreamError(.unavailable, "weed mini did not become ready within 30 s: \(lastError)")
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops the server (SIGTERM, then SIGKILL) and removes its directory.
    func stop() {
        if let process, process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            kill()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `count` ports in 20000..<30000 such that each port and port + 10000 are free on 127.0.0.1.
    static func freePorts(_ count: Int) throws -> [Int] {
        var chosen: [Int] = []
        for _ in 0..<2_000 where chosen.count < count {
            let port = Int.random(in: 20_000..<30_000)
            if !chosen.contains(port), isFree(port), isFree(port + 10_000) { chosen.append(port) }
        }
        guard chosen.count == count else { throw StreamError(.unavailable, "no free loopback ports for a private SeaweedFS") }
        return chosen
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}
