// Licensed under the Apache License, Version 2.0.
//
// The one file that talks to libssh2: a TCP socket, an SSH session on it (blocking mode with a
// timeout, keepalives), the server's host key and its checks, user authentication, and the SFTP
// calls the replica needs (open, read, write, fsync, fstat, stat, rename, unlink, mkdir, rmdir,
// readdir). Everything above this file sees `[UInt8]`, `String` and `StreamError`; no pointer
// leaves it.
//
// A connection is used by one thread at a time (the pool hands it out); it is not `Sendable`.
// Every failure is classified here: a transport failure (socket, timeout, channel closed, bad
// packet) marks the connection broken and throws a transient `.unavailable`; an SFTP status
// (no such file, permission denied, failure...) leaves the connection usable.

import CSSH2
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Initializes libssh2 once per process (`libssh2_init` is not thread-safe; a Swift global is).
private let libssh2Initialized: Bool = libssh2_init(0) == 0

/// What an SFTP status or transport failure means to the replica.
enum SSH2Failure: Error {
    /// The server answered with an SFTP status (the connection is still usable).
    case status(UInt, String)
    /// The connection is gone or unusable (socket, timeout, protocol); already marked broken.
    case transport(Int32, String)
}

/// The attributes of a remote file that the replica uses.
struct SFTPAttributes {
    var size: Int64
    var isDirectory: Bool
    var isRegularFile: Bool
    var isSymbolicLink: Bool
}

/// One directory entry read by `readdir`.
struct SFTPDirectoryEntry {
    var name: String
    var attributes: SFTPAttributes
}

/// How the server's host key compared with a known_hosts file.
enum KnownHostsVerdict {
    case match
    case mismatch
    case notFound
}

/// One SSH session with an SFTP channel, over its own TCP socket.
final class SSH2Connection {
    private var socketFD: Int32 = -1
    private var session: OpaquePointer?
    private var sftp: OpaquePointer?
    /// The place printed in error messages, e.g. `root@127.0.0.1:22`.
    let place: String
    /// Set after any transport failure; the pool discards a broken connection.
    private(set) var isBroken = false
    /// Whether the server accepted `fsync@openssh.com` (cleared after an unsupported answer).
    var supportsFsync = true
    /// When the connection was last handed back to the pool.
    var idleSince = ContinuousClock.now
    /// The pool's generation when the connection was made (a `close()` retires older ones).
    var generation = 0

    /// Opens the TCP connection and runs the SSH handshake (no authentication yet).
    ///
    /// The corresponding C functions are `connect` and `libssh2_session_handshake`.
    init(host: String, port: Int, timeout: Duration, keepaliveSeconds: Int, place: String) throws {
        self.place = place
        precondition(libssh2Initialized, "libssh2_init failed")
        let timeoutMs = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)

        // Connect the socket first, bounded by the timeout, so that an unreachable host fails fast.
        socketFD = try Self.connectSocket(host: host, port: port, timeoutMs: timeoutMs, place: place)

        // Then the session: blocking calls bounded by the timeout, keepalives that ask for a reply.
        guard let s = libssh2_session_init_ex(nil, nil, nil, nil) else {
            close()
            throw StreamError(.replicaError, "\(place): libssh2 could not allocate a session")
        }
        session = s
        libssh2_session_set_blocking(s, 1)
        libssh2_session_set_timeout(s, timeoutMs)

        // The handshake agrees on keys and ciphers and fetches the host key checked next.
        let rc = libssh2_session_handshake(s, socketFD)
        if rc != 0 {
            let failure = lastError(rc, "SSH handshake")
            close()
            throw failure
        }
        // Keepalives are configured after the handshake: configured before, libssh2 1.10 sends
        // one in the middle of the key exchange and the server drops the connection.
        libssh2_keepalive_config(s, 1, UInt32(max(0, keepaliveSeconds)))
    }

    deinit { close() }

    // MARK: - Host key

    /// The server's host key: its raw blob, its libssh2 type and its name (`ssh-ed25519`...).
    func hostKey() -> (blob: [UInt8], type: Int32, name: String) {
        var length = 0
        var type: Int32 = 0
        guard let session, let key = libssh2_session_hostkey(session, &length, &type) else {
            return ([], LIBSSH2_HOSTKEY_TYPE_UNKNOWN, "unknown")
        }
        let blob = key.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        return (blob, type, Self.keyTypeName(type))
    }

    /// The host key's SHA-256 fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
    ///
    /// The corresponding C function is `libssh2_hostkey_hash`.
    func hostKeyFingerprint() -> String {
        guard let session, let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return "SHA256:?" }
        let bytes = hash.withMemoryRebound(to: UInt8.self, capacity: 32) { Array(UnsafeBufferPointer(start: $0, count: 32)) }
        return SFTPFingerprint.format(sha256: bytes)
    }

    /// Checks the host key against known_hosts lines (OpenSSH format, plain, `[host]:port` or hashed).
    ///
    /// Lines libssh2 cannot parse (`@cert-authority`, unknown key types) are skipped and counted.
    /// The corresponding C functions are `libssh2_knownhost_readline` and `libssh2_knownhost_checkp`.
    func checkKnownHosts(lines: [String], host: String, port: Int) -> (verdict: KnownHostsVerdict, skipped: Int) {
        guard let session, let hosts = libssh2_knownhost_init(session) else { return (.notFound, lines.count) }
        defer { libssh2_knownhost_free(hosts) }
        var skipped = 0
        for line in lines {
            let rc = line.withCString { libssh2_knownhost_readline(hosts, $0, strlen($0), LIBSSH2_KNOWNHOST_FILE_OPENSSH) }
            if rc != 0 { skipped += 1 }
        }
        let key = hostKey()
        let keyMask = Self.knownHostKeyMask(key.type)
        if key.blob.isEmpty || keyMask == LIBSSH2_KNOWNHOST_KEY_UNKNOWN { return (.notFound, skipped) }
        let rc = key.blob.withUnsafeBufferPointer { blob in
            blob.baseAddress!.withMemoryRebound(to: CChar.self, capacity: blob.count) { keyPointer in
                libssh2_knownhost_checkp(hosts, host, Int32(port), keyPointer, blob.count,
                                         LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keyMask, nil)
            }
        }
        switch rc {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH: return (.match, skipped)
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: return (.mismatch, skipped)
        default: return (.notFound, skipped)
        }
    }

    // MARK: - Authentication

    /// Authenticates with a private key file (ed25519, ECDSA, RSA; OpenSSH or PEM format).
    ///
    /// The corresponding C function is `libssh2_userauth_publickey_fromfile_ex` (the public
    /// key is derived from the private one).
    func authenticate(user: String, keyPath: String, passphrase: String?) throws {
        guard let session else { throw brokenError("authentication") }
        let rc = libssh2_userauth_publickey_fromfile_ex(session, user, UInt32(user.utf8.count), nil, keyPath, passphrase)
        if rc != 0 { throw authenticationError(rc, method: "key \(keyPath)") }
    }

    /// Authenticates with a password.
    ///
    /// The corresponding C function is `libssh2_userauth_password_ex`.
    func authenticate(user: String, password: String) throws {
        guard let session else { throw brokenError("authentication") }
        let rc = libssh2_userauth_password_ex(session, user, UInt32(user.utf8.count), password, UInt32(password.utf8.count), nil)
        if rc != 0 { throw authenticationError(rc, method: "password") }
    }

    /// Starts the SFTP subsystem on the authenticated session.
    func startSFTP() throws {
        guard let session else { throw brokenError("SFTP start") }
        guard let channel = libssh2_sftp_init(session) else {
            throw lastError(libssh2_session_last_errno(session), "SFTP subsystem start")
        }
        sftp = channel
    }

    // MARK: - Liveness

    /// Whether the peer has already closed the socket (a cheap check before reusing an idle connection).
    func peerHasClosed() -> Bool {
        if isBroken || socketFD < 0 { return true }
        var byte: UInt8 = 0
        let n = recv(socketFD, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n == 0 { return true }
        if n < 0 { return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) }
        return false
    }

    /// Sends a keepalive if one is due; a failure marks the connection broken.
    ///
    /// The corresponding C function is `libssh2_keepalive_send`.
    func sendKeepaliveIfDue() -> Bool {
        guard let session, !isBroken else { return false }
        var next: Int32 = 0
        if libssh2_keepalive_send(session, &next) != 0 { isBroken = true }
        return !isBroken
    }

    // MARK: - SFTP calls

    /// Opens a remote file; `write` creates it exclusively (it must not exist).
    func open(_ path: String, write: Bool) throws -> OpaquePointer {
        guard let sftp else { throw brokenError("open \(path)") }
        let flags = write ? UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL) : UInt(LIBSSH2_FXF_READ)
        guard let handle = libssh2_sftp_open_ex(sftp, path, UInt32(path.utf8.count), flags, 0o644, LIBSSH2_SFTP_OPENFILE) else {
            throw sftpError("open \(path)")
        }
        return handle
    }

    /// Opens a remote directory for `readdir`.
    private func openDirectory(_ path: String) throws -> OpaquePointer {
        guard let sftp else { throw brokenError("opendir \(path)") }
        guard let handle = libssh2_sftp_open_ex(sftp, path, UInt32(path.utf8.count), 0, 0, LIBSSH2_SFTP_OPENDIR) else {
            throw sftpError("opendir \(path)")
        }
        return handle
    }

    /// Closes a handle (for a written file, the server reports write errors here).
    func closeHandle(_ handle: OpaquePointer, _ what: String) throws {
        let rc = libssh2_sftp_close_handle(handle)
        if rc != 0 { throw classify(rc, "close \(what)") }
    }

    /// Writes all of `bytes` at the handle's position (libssh2 pipelines the packets).
    func write(_ handle: OpaquePointer, _ bytes: UnsafeRawBufferPointer, _ what: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = libssh2_sftp_write(handle, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), bytes.count - offset)
            if n < 0 { throw classify(Int32(n), "write \(what)") }
            offset += n
        }
    }

    /// Reads up to `count` bytes at the handle's position; fewer only at the end of the file.
    func read(_ handle: OpaquePointer, count: Int, _ what: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        try buffer.withUnsafeMutableBytes { raw in
            while filled < count {
                let n = libssh2_sftp_read(handle, raw.baseAddress!.advanced(by: filled).assumingMemoryBound(to: CChar.self), count - filled)
                if n < 0 { throw classify(Int32(n), "read \(what)") }
                if n == 0 { break }
                filled += n
            }
        }
        buffer.removeLast(count - filled)
        return buffer
    }

    /// Moves the handle's position (the next read starts there).
    func seek(_ handle: OpaquePointer, to offset: Int64) {
        libssh2_sftp_seek64(handle, UInt64(offset))
    }

    /// Asks the server to flush the file to disk; returns false when it does not support `fsync@openssh.com`.
    func fsync(_ handle: OpaquePointer, _ what: String) throws -> Bool {
        let rc = libssh2_sftp_fsync(handle)
        if rc == 0 { return true }
        let failure = classify(rc, "fsync \(what)")
        if case .status(let status, _) = failure, status == UInt(LIBSSH2_FX_OP_UNSUPPORTED) { return false }
        throw failure
    }

    /// The attributes of an open handle.
    func fstat(_ handle: OpaquePointer, _ what: String) throws -> SFTPAttributes {
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        let rc = libssh2_sftp_fstat_ex(handle, &attributes, 0)
        if rc != 0 { throw classify(rc, "fstat \(what)") }
        return Self.attributes(attributes)
    }

    /// The attributes of a path (following symbolic links), or nil when it does not exist.
    func stat(_ path: String) throws -> SFTPAttributes? {
        guard let sftp else { throw brokenError("stat \(path)") }
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        let rc = libssh2_sftp_stat_ex(sftp, path, UInt32(path.utf8.count), LIBSSH2_SFTP_STAT, &attributes)
        if rc == 0 { return Self.attributes(attributes) }
        let failure = classify(rc, "stat \(path)")
        if case .status(let status, _) = failure, Self.isMissing(status) { return nil }
        throw failure
    }

    /// Renames without overwriting (SFTPv3 and OpenSSH refuse when the target exists).
    func rename(_ from: String, to: String) throws {
        guard let sftp else { throw brokenError("rename \(from)") }
        let flags = Int(LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE)
        let rc = libssh2_sftp_rename_ex(sftp, from, UInt32(from.utf8.count), to, UInt32(to.utf8.count), flags)
        if rc != 0 { throw classify(rc, "rename \(from) to \(to)") }
    }

    /// Removes a file.
    func unlink(_ path: String) throws {
        guard let sftp else { throw brokenError("unlink \(path)") }
        let rc = libssh2_sftp_unlink_ex(sftp, path, UInt32(path.utf8.count))
        if rc != 0 { throw classify(rc, "unlink \(path)") }
    }

    /// Creates one directory.
    func mkdir(_ path: String) throws {
        guard let sftp else { throw brokenError("mkdir \(path)") }
        let rc = libssh2_sftp_mkdir_ex(sftp, path, UInt32(path.utf8.count), 0o755)
        if rc != 0 { throw classify(rc, "mkdir \(path)") }
    }

    /// Removes an empty directory.
    func rmdir(_ path: String) throws {
        guard let sftp else { throw brokenError("rmdir \(path)") }
        let rc = libssh2_sftp_rmdir_ex(sftp, path, UInt32(path.utf8.count))
        if rc != 0 { throw classify(rc, "rmdir \(path)") }
    }

    /// Every entry of a directory except `.` and `..`, with the attributes the server sent along.
    func readDirectory(_ path: String) throws -> [SFTPDirectoryEntry] {
        let handle = try openDirectory(path)
        var entries: [SFTPDirectoryEntry] = []
        var name = [CChar](repeating: 0, count: 4096)
        while true {
            var attributes = LIBSSH2_SFTP_ATTRIBUTES()
            let n = name.withUnsafeMutableBufferPointer { libssh2_sftp_readdir_ex(handle, $0.baseAddress, $0.count - 1, nil, 0, &attributes) }
            if n < 0 {
                let failure = classify(n, "readdir \(path)")
                _ = libssh2_sftp_close_handle(handle)
                throw failure
            }
            if n == 0 { break }
            let entry = String(decoding: name[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if entry == "." || entry == ".." { continue }
            entries.append(SFTPDirectoryEntry(name: entry, attributes: Self.attributes(attributes)))
        }
        try closeHandle(handle, path)
        return entries
    }

    /// Ends the session politely when it is still healthy, then frees everything and closes the socket.
    func close() {
        // A broken connection's socket is shut down first, so that freeing sends nothing and cannot block.
        if isBroken && socketFD >= 0 { _ = shutdown(socketFD, Int32(SHUT_RDWR)) }
        if let sftp {
            _ = libssh2_sftp_shutdown(sftp)
            self.sftp = nil
        }
        if let session {
            if !isBroken { _ = libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "closing", "") }
            _ = libssh2_session_free(session)
            self.session = nil
        }
        if socketFD >= 0 {
            _ = Glibc.close(socketFD)
            socketFD = -1
        }
        isBroken = true
    }

    // MARK: - Errors

    /// Whether an SFTP status means "no such file or directory".
    static func isMissing(_ status: UInt) -> Bool {
        status == UInt(LIBSSH2_FX_NO_SUCH_FILE) || status == UInt(LIBSSH2_FX_NO_SUCH_PATH)
    }

    /// Whether an SFTP status means "permission denied".
    static func isPermissionDenied(_ status: UInt) -> Bool {
        status == UInt(LIBSSH2_FX_PERMISSION_DENIED) || status == UInt(LIBSSH2_FX_WRITE_PROTECT)
    }

    /// Classifies a negative return code: an SFTP status, or a transport failure that breaks the connection.
    private func classify(_ rc: Int32, _ what: String) -> SSH2Failure {
        if rc == LIBSSH2_ERROR_SFTP_PROTOCOL, let sftp {
            let status = libssh2_sftp_last_error(sftp)
            return .status(status, "\(place): \(what): \(Self.statusName(status))")
        }
        isBroken = true
        return .transport(rc, "\(place): \(what): \(sessionMessage(rc))")
    }

    /// The failure of a call that returned NULL: the session's last error says which.
    private func sftpError(_ what: String) -> SSH2Failure {
        guard let session else { return brokenError(what) }
        return classify(libssh2_session_last_errno(session), what)
    }

    private func brokenError(_ what: String) -> SSH2Failure {
        isBroken = true
        return .transport(LIBSSH2_ERROR_SOCKET_DISCONNECT, "\(place): \(what): the connection is closed")
    }

    /// A transient error for a failed connect, handshake or subsystem start.
    private func lastError(_ rc: Int32, _ what: String) -> StreamError {
        isBroken = true
        return StreamError(.unavailable, "\(place): \(what) failed: \(sessionMessage(rc))")
    }

    /// Authentication failures are final (`.accessDenied`); a dropped connection during it is transient.
    private func authenticationError(_ rc: Int32, method: String) -> StreamError {
        switch rc {
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED, LIBSSH2_ERROR_KEYFILE_AUTH_FAILED,
             LIBSSH2_ERROR_PASSWORD_EXPIRED, LIBSSH2_ERROR_METHOD_NOT_SUPPORTED:
            return StreamError(.accessDenied, "\(place): the server refused authentication with \(method): \(sessionMessage(rc))", isTransient: false)
        case LIBSSH2_ERROR_FILE:
            return StreamError(.accessDenied, "\(place): could not use \(method) (unreadable, wrong passphrase or unsupported format): \(sessionMessage(rc))", isTransient: false)
        default:
            return lastError(rc, "authentication with \(method)")
        }
    }

    /// libssh2's own words for the last error, with its code.
    private func sessionMessage(_ rc: Int32) -> String {
        guard let session else { return "libssh2 error \(rc)" }
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        _ = libssh2_session_last_error(session, &message, &length, 0)
        let text = message.map { String(cString: $0) } ?? ""
        return text.isEmpty ? "libssh2 error \(rc)" : "\(text) (libssh2 error \(rc))"
    }

    private static func statusName(_ status: UInt) -> String {
        switch status {
        case UInt(LIBSSH2_FX_EOF): "end of file"
        case UInt(LIBSSH2_FX_NO_SUCH_FILE): "no such file"
        case UInt(LIBSSH2_FX_PERMISSION_DENIED): "permission denied"
        case UInt(LIBSSH2_FX_FAILURE): "failure"
        case UInt(LIBSSH2_FX_OP_UNSUPPORTED): "operation unsupported"
        case UInt(LIBSSH2_FX_NO_SUCH_PATH): "no such path"
        case UInt(LIBSSH2_FX_FILE_ALREADY_EXISTS): "file already exists"
        case UInt(LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM): "no space on filesystem"
        case UInt(LIBSSH2_FX_QUOTA_EXCEEDED): "quota exceeded"
        case UInt(LIBSSH2_FX_DIR_NOT_EMPTY): "directory not empty"
        case UInt(LIBSSH2_FX_NOT_A_DIRECTORY): "not a directory"
        default: "SFTP status \(status)"
        }
    }

    // MARK: - Helpers

    private static func attributes(_ a: LIBSSH2_SFTP_ATTRIBUTES) -> SFTPAttributes {
        let hasPermissions = a.flags & UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS) != 0
        let kind = a.permissions & UInt(LIBSSH2_SFTP_S_IFMT)
        return SFTPAttributes(
            size: a.flags & UInt(LIBSSH2_SFTP_ATTR_SIZE) != 0 ? Int64(a.filesize) : 0,
            isDirectory: hasPermissions && kind == UInt(LIBSSH2_SFTP_S_IFDIR),
            isRegularFile: !hasPermissions || kind == UInt(LIBSSH2_SFTP_S_IFREG),
            isSymbolicLink: hasPermissions && kind == UInt(LIBSSH2_SFTP_S_IFLNK))
    }

    private static func keyTypeName(_ type: Int32) -> String {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: "ssh-rsa"
        case LIBSSH2_HOSTKEY_TYPE_DSS: "ssh-dss"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: "ecdsa-sha2-nistp256"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: "ecdsa-sha2-nistp384"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: "ecdsa-sha2-nistp521"
        case LIBSSH2_HOSTKEY_TYPE_ED25519: "ssh-ed25519"
        default: "unknown"
        }
    }

    private static func knownHostKeyMask(_ type: Int32) -> Int32 {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case LIBSSH2_HOSTKEY_TYPE_DSS: LIBSSH2_KNOWNHOST_KEY_SSHDSS
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case LIBSSH2_HOSTKEY_TYPE_ED25519: LIBSSH2_KNOWNHOST_KEY_ED25519
        default: LIBSSH2_KNOWNHOST_KEY_UNKNOWN
        }
    }

    /// Resolves `host` and connects a TCP socket within `timeoutMs`, trying each address in turn.
    private static func connectSocket(host: String, port: Int, timeoutMs: Int, place: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw StreamError(.unavailable, "\(place): cannot resolve host: \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            info = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 { lastError = errno; continue }
            // Non-blocking connect plus poll bounds the wait; the socket is blocking again afterwards.
            let flags = fcntl(fd, F_GETFL, 0)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&pfd, 1, Int32(clamping: timeoutMs))
                if ready == 1 {
                    var soError: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                    result = soError == 0 ? 0 : -1
                    errno = soError
                } else {
                    errno = ready == 0 ? ETIMEDOUT : errno
                    result = -1
                }
            }
            if result == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            lastError = errno
            _ = Glibc.close(fd)
        }
        throw StreamError(.unavailable, "\(place): cannot connect: \(String(cString: strerror(lastError)))")
    }
}
