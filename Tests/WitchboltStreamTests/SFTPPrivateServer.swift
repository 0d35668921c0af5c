// A private OpenSSH sshd for the SFTP tests that must kill, restart or reconfigure a server:
// its own temporary directory, host key, client key, authorized_keys, known_hosts and port on
// 127.0.0.1, never the shared server. `kill()` is SIGKILL to the listener and every process
// below it (the per-connection sshd processes and their internal-sftp sessions), found in /proc.

import Foundation
import WitchboltStream

#if canImport(Glibc)
import Glibc
#endif

final class SFTPPrivateServer: @unchecked Sendable {
    // @unchecked Sendable because `process` is only touched under `lock`; the paths never change.
    let directory: String
    let port: Int
    let hostKeyPath: String
    let clientKeyPath: String
    let knownHostsPath: String
    let rootPath: String
    private let configPath: String
    private let logPath: String
    private let lock = NSLock()
    private var process: Process?

    /// Makes the keys and configuration; `clientKeyType` is an `ssh-keygen -t` value.
    init(clientKeyType: String = "ed25519", extraConfig: [String] = []) throws {
        directory = NSTemporaryDirectory() + "witchbolt-sshd-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        hostKeyPath = directory + "/host_ed25519"
        clientKeyPath = directory + "/client_\(clientKeyType)"
        knownHostsPath = directory + "/known_hosts"
        rootPath = directory + "/root"
        configPath = directory + "/sshd_config"
        logPath = directory + "/sshd.log"
        try FileManager.default.createDirectory(atPath: rootPath, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        port = try Self.freePort()

        try Self.keygen(type: "ed25519", path: hostKeyPath)
        try Self.keygen(type: clientKeyType, path: clientKeyPath)
        try FileManager.default.copyItem(atPath: clientKeyPath + ".pub", toPath: directory + "/authorized_keys")
        let hostPublic = try String(contentsOfFile: hostKeyPath + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "[127.0.0.1]:\(port) \(hostPublic)\n".write(toFile: knownHostsPath, atomically: true, encoding: .utf8)
        let lines = [
            "ListenAddress 127.0.0.1", "Port \(port)", "HostKey \(hostKeyPath)", "PidFile \(directory)/sshd.pid",
            "AuthorizedKeysFile \(directory)/authorized_keys", "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes no", "UseDNS no", "MaxStartups 200", "Subsystem sftp internal-sftp",
        ] + extraConfig
        try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A configuration for this server's root (plus `subpath`), host key checked against its known_hosts.
    func config(subpath: String = "replica") -> SFTPReplicaConfig {
        var config = SFTPReplicaConfig(host: "127.0.0.1", port: port, user: "root", keyPath: clientKeyPath,
                                       path: rootPath + "/" + subpath, hostKeyPolicy: .knownHosts(path: knownHostsPath))
        config.timeout = .seconds(10)
        config.initialBackoff = .milliseconds(50)
        config.maxBackoff = .milliseconds(400)
        return config
    }

    /// A configuration that reaches this server through another port (a proxy), with a known_hosts
    /// file listing the server's host key for `[127.0.0.1]:port`.
    func config(viaPort proxyPort: Int, subpath: String = "replica") throws -> SFTPReplicaConfig {
        let hostPublic = try String(contentsOfFile: hostKeyPath + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let path = directory + "/known_hosts_\(proxyPort)"
        try "[127.0.0.1]:\(proxyPort) \(hostPublic)\n".write(toFile: path, atomically: true, encoding: .utf8)
        var config = config(subpath: subpath)
        config.port = proxyPort
        config.hostKeyPolicy = .knownHosts(path: path)
        return config
    }

    /// Starts sshd and waits until it accepts connections.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/sshd")
        process.arguments = ["-D", "-e", "-f", configPath]
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        log?.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.lock()
        self.process = process
        lock.unlock()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.accepts(port: port) { return }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw SFTPTestError("sshd on port \(port) did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
    }

    /// SIGKILL to sshd and all its descendants (the sessions serving live connections).
    func kill() {
        lock.lock()
        let process = self.process
        self.process = nil
        lock.unlock()
        guard let process, process.isRunning else { return }
        let listener = process.processIdentifier
        let descendants = Self.descendants(of: listener)
        _ = Glibc.kill(listener, SIGKILL)
        for pid in descendants { _ = Glibc.kill(pid, SIGKILL) }
        process.waitUntilExit()
        // Sessions forked after the listing (none should be, the listener is gone) are swept too.
        for pid in Self.descendants(of: listener) { _ = Glibc.kill(pid, SIGKILL) }
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) sshd and its sessions: a hung server, not a dead one.
    func freeze(_ frozen: Bool) {
        lock.lock()
        let process = self.process
        lock.unlock()
        guard let process, process.isRunning else { return }
        let listener = process.processIdentifier
        for pid in [listener] + Self.descendants(of: listener) { _ = Glibc.kill(pid, frozen ? SIGSTOP : SIGCONT) }
    }

    /// The processes whose parent chain leads to `root`.
    static func descendants(of root: Int32) -> [Int32] {
        var parents: [Int32: Int32] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { parents[pid] = ppid }
        }
        var found: [Int32] = []
        var frontier: Set<Int32> = [root]
        while !frontier.isEmpty {
            let children = parents.filter { frontier.contains($0.value) }.map(\.key)
            found += children
            frontier = Set(children)
        }
        return found
    }

    /// Runs ssh-keygen for a key without a passphrase.
    static func keygen(type: String, path: String, passphrase: String = "") throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-q", "-t", type, "-N", passphrase, "-f", path, "-C", "witchbolt-test"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw SFTPTestError("ssh-keygen -t \(type) failed") }
    }

    /// A port on 127.0.0.1 nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { _ = Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw SFTPTestError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on the port.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { _ = Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
