// Licensed under the Apache License, Version 2.0.
//
// The one file of the S3 replica that touches libcurl and raw pointers. It turns one HTTP
// request (method, URL, headers, a body from memory or from a file range) into one libcurl
// transfer on a reused easy handle, signed by libcurl's built-in SigV4, and hands back a
// plain `CurlResponse` (status, headers, body) or streams the body to a sink. Everything
// above it works with Swift values; no pointer leaves this file.
//
// Handles are kept in a small pool: a transfer borrows one, resets its options (which keeps
// its live connection, so requests reuse connections) and gives it back. The pool bounds the
// number of parallel transfers and of open connections.

import CCurl
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the body of a request comes from.
enum CurlBody: Sendable {
    /// No body (GET, HEAD, DELETE).
    case none
    /// Bytes in memory.
    case bytes([UInt8])
    /// `length` bytes of a local file, from `offset`, read as curl sends them.
    case file(path: String, offset: Int64, length: Int64)

    var length: Int64 {
        switch self {
        case .none: 0
        case .bytes(let bytes): Int64(bytes.count)
        case .file(_, _, let length): length
        }
    }
}

/// One HTTP request for libcurl to sign and send.
struct CurlRequest: Sendable {
    var method: String
    var url: String
    var headers: [(name: String, value: String)]
    var body: CurlBody = .none
    /// The statuses whose body goes to the sink (when there is one); others are collected.
    var sinkStatuses: Set<Int> = Set(200..<300)
}

/// How every transfer of a client is set up: signing, TLS and timeouts.
struct CurlSettings: Sendable {
    /// `aws:amz:REGION:s3`, the value of `CURLOPT_AWS_SIGV4`.
    var sigV4Provider: String
    var accessKeyID: String
    var secretAccessKey: String
    var verifyTLS: Bool
    /// A PEM file of CA certificates (`CURLOPT_CAINFO`), or nil for the system's.
    var caBundlePath: String?
    var connectTimeoutMilliseconds: Int
    /// A transfer slower than one byte per second for this long is aborted (a stalled peer).
    var lowSpeedTimeSeconds: Int
}

extension CurlSettings: CustomStringConvertible, CustomReflectable {
    /// The settings without the key pair.
    var description: String { "CurlSettings(\(sigV4Provider), verifyTLS: \(verifyTLS), credentials: redacted)" }
    /// A mirror without the key pair, so `dump` of a client never prints a secret.
    var customMirror: Mirror { Mirror(self, children: ["sigV4Provider": sigV4Provider, "verifyTLS": verifyTLS]) }
}

/// What came back: the final status, its headers (names lowercased) and the body, unless the
/// body was streamed to a sink.
struct CurlResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
}

/// A transfer that failed below HTTP: connection refused or reset, timeout, TLS, a local read.
struct CurlFailure: Error, Sendable {
    /// libcurl's `CURLcode`.
    var code: Int
    /// libcurl's words (its error buffer, or `curl_easy_strerror`).
    var message: String
    /// The error the streaming sink threw, which aborted the transfer.
    var sinkError: (any Error)?

    /// Whether a new attempt may succeed: connection failures, timeouts, resets, partial bodies.
    var isTransient: Bool {
        switch code {
        case 5, 6, 7: true  // proxy/host resolution, connection refused
        case 16: true  // HTTP/2 framing
        case 18: true  // partial file: the peer closed mid-body
        case 28: true  // timed out (connect or low speed)
        case 35: true  // TLS handshake
        case 52, 55, 56: true  // got nothing, send error, receive error (reset)
        case 65: true  // could not rewind the body to resend
        case 92: true  // HTTP/2 stream error
        default: false
        }
    }
}

/// A libcurl easy handle, used by one transfer at a time.
final class CurlHandle: @unchecked Sendable {
    // @unchecked Sendable because the pool hands a handle to one thread at a time; the raw
    // pointer is never shared between concurrent transfers.
    private let handle: UnsafeMutableRawPointer

    private static let globalInit: Bool = ccurl_global_init_all() == CURLE_OK

    init() throws(CurlFailure) {
        guard Self.globalInit, let handle = curl_easy_init() else {
            throw CurlFailure(code: -1, message: "curl_easy_init failed")
        }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// Performs one request. A 2xx body goes to `sink` in chunks when one is given, otherwise
    /// into the response; a non-2xx body is always collected (it holds the S3 error document).
    func perform(
        _ request: CurlRequest, settings: CurlSettings, sink: (([UInt8]) throws -> Void)?
    ) throws(CurlFailure) -> CurlResponse {
        // Start from clean options; the connection cache survives the reset.
        curl_easy_reset(handle)
        let state = TransferState()
        state.sink = sink
        state.sinkStatuses = request.sinkStatuses
        defer { state.closeFile() }
        if case .file(let path, let offset, let length) = request.body {
            try state.openFile(path: path, offset: offset, length: length)
        } else if case .bytes(let bytes) = request.body {
            state.memory = bytes
        }
        state.bodyLength = request.body.length

        // Headers we send: every one of them is signed by curl (never add `Name:` removals).
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for header in request.headers {
            list = curl_slist_append(list, "\(header.name): \(header.value)")
        }
        defer { curl_slist_free_all(list) }

        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            withExtendedLifetime(state) {
                let context = Unmanaged.passUnretained(state).toOpaque()
                configure(request, settings: settings, headers: list, context: context)
                _ = ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
                return curl_easy_perform(handle)
            }
        }
        // Detach everything that pointed into this call's memory.
        _ = ccurl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, nil)
        _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)

        if code != CURLE_OK {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            if let fileError = state.fileError { throw fileError }
            throw CurlFailure(code: Int(code.rawValue), message: message, sinkError: state.sinkError)
        }
        try state.flushSink()
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return CurlResponse(status: status, headers: state.headers, body: state.collected)
    }

    /// Sets the options of one transfer.
    private func configure(
        _ request: CurlRequest, settings: CurlSettings, headers: UnsafeMutablePointer<curl_slist>?,
        context: UnsafeMutableRawPointer
    ) {
        _ = ccurl_setopt_str(handle, CURLOPT_URL, request.url)
        _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds)
        _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, settings.lowSpeedTimeSeconds)
        _ = ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, settings.verifyTLS ? 1 : 0)
        _ = ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, settings.verifyTLS ? 2 : 0)
        if let caBundlePath = settings.caBundlePath { _ = ccurl_setopt_str(handle, CURLOPT_CAINFO, caBundlePath) }
        // Signing: curl computes SigV4 over the headers we give it and the payload hash we send.
        _ = ccurl_setopt_str(handle, CURLOPT_AWS_SIGV4, settings.sigV4Provider)
        _ = ccurl_setopt_str(handle, CURLOPT_USERNAME, settings.accessKeyID)
        _ = ccurl_setopt_str(handle, CURLOPT_PASSWORD, settings.secretAccessKey)
        _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
        _ = ccurl_setopt_write_cb(handle, curlWrite)
        _ = ccurl_setopt_ptr(handle, CURLOPT_WRITEDATA, context)
        _ = ccurl_setopt_header_cb(handle, curlHeader)
        _ = ccurl_setopt_ptr(handle, CURLOPT_HEADERDATA, context)

        switch request.method {
        case "GET":
            break
        case "HEAD":
            _ = ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
        case "PUT", "POST":
            // Both send their body through the read callback with a known length; POST is
            // PUT's transfer with another verb, so curl adds no form content type.
            _ = ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
            _ = ccurl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.length))
            _ = ccurl_setopt_read_cb(handle, curlRead)
            _ = ccurl_setopt_ptr(handle, CURLOPT_READDATA, context)
            _ = ccurl_setopt_seek_cb(handle, curlSeek)
            _ = ccurl_setopt_ptr(handle, CURLOPT_SEEKDATA, context)
            if request.method == "POST" { _ = ccurl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, "POST") }
        default:
            _ = ccurl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, request.method)
        }
    }
}

/// The state of one transfer, reached from the C callbacks through an opaque pointer.
private final class TransferState {
    var headers: [String: String] = [:]
    var status = 0
    var collected: [UInt8] = []
    var sink: (([UInt8]) throws -> Void)?
    var sinkStatuses: Set<Int> = []
    var sinkError: (any Error)?
    var pending: [UInt8] = []
    static let sinkChunk = 1 << 20

    var memory: [UInt8] = []
    var fileDescriptor: Int32 = -1
    var fileOffset: Int64 = 0
    var fileError: CurlFailure?
    var bodyLength: Int64 = 0
    var bodyPosition: Int64 = 0

    func openFile(path: String, offset: Int64, length: Int64) throws(CurlFailure) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CurlFailure(code: 26, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        fileDescriptor = fd
        fileOffset = offset
    }

    func closeFile() {
        if fileDescriptor >= 0 { close(fileDescriptor) }
        fileDescriptor = -1
    }

    /// Copies the next body bytes into curl's buffer; nil aborts the transfer.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let wanted = Int(min(Int64(buffer.count), bodyLength - bodyPosition))
        guard wanted > 0, let base = buffer.baseAddress else { return 0 }
        if fileDescriptor >= 0 {
            var got = 0
            while got < wanted {
                let n = pread(fileDescriptor, base + got, wanted - got, off_t(fileOffset + bodyPosition + Int64(got)))
                if n < 0, errno == EINTR { continue }
                if n <= 0 {
                    fileError = CurlFailure(code: 26, message: n == 0 ? "the file ended early" : String(cString: strerror(errno)))
                    return nil
                }
                got += n
            }
        } else {
            memory.withUnsafeBytes { source in
                base.copyMemory(from: source.baseAddress! + Int(bodyPosition), byteCount: wanted)
            }
        }
        bodyPosition += Int64(wanted)
        return wanted
    }

    /// Takes one header line; a status line starts a new response (after `100 Continue`).
    func header(_ line: String) {
        if line.hasPrefix("HTTP/") {
            headers = [:]
            let parts = line.split(separator: " ")
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = String(line[line.index(after: colon)...]).trimmedOfWhitespace()
        headers[name] = value
    }

    /// Takes body bytes: to the sink on success (in chunks of about a MiB), else collected.
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let sink, sinkStatuses.contains(status) else {
            collected.append(contentsOf: bytes)
            return true
        }
        pending.append(contentsOf: bytes)
        if pending.count >= Self.sinkChunk {
            do {
                try sink(pending)
                pending.removeAll(keepingCapacity: true)
            } catch {
                sinkError = error
                return false
            }
        }
        return true
    }

    func flushSink() throws(CurlFailure) {
        guard let sink, sinkStatuses.contains(status), !pending.isEmpty else { return }
        do {
            try sink(pending)
            pending.removeAll()
        } catch {
            throw CurlFailure(code: 23, message: "the reader of the body failed", sinkError: error)
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs, CR and LF.
    fileprivate func trimmedOfWhitespace() -> String {
        let blank: Set<Unicode.Scalar> = [" ", "\t", "\r", "\n"]
        var view = Substring(self)
        while let first = view.unicodeScalars.first, blank.contains(first) { view = Substring(view.unicodeScalars.dropFirst()) }
        while let last = view.unicodeScalars.last, blank.contains(last) { view = Substring(view.unicodeScalars.dropLast()) }
        return String(view)
    }
}

// The C callbacks. Each finds its transfer's state through the opaque context pointer.

private let curlWrite: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    pointer, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    return state.receive(UnsafeRawBufferPointer(start: pointer, count: length)) ? length : 0
}

private let curlHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    pointer, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
    state.header(String(decoding: bytes, as: UTF8.self))
    return length
}

private let curlRead: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    pointer, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let buffer = UnsafeMutableRawBufferPointer(start: pointer, count: size * count)
    return state.read(into: buffer) ?? 0x1000_0000  // CURL_READFUNC_ABORT
}

private let curlSeek: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, Int32) -> Int32 = {
    context, offset, origin in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    // curl rewinds to resend a body (a reused connection that turned out dead); only
    // absolute seeks inside the body are possible.
    guard origin == SEEK_SET, offset >= 0, Int64(offset) <= state.bodyLength else { return 2 }  // CURL_SEEKFUNC_CANTSEEK
    state.bodyPosition = Int64(offset)
    return 0  // CURL_SEEKFUNC_OK
}

/// A bounded pool of easy handles: at most `capacity` transfers at once, idle handles kept
/// (with their connections) for the next transfer.
final class CurlHandlePool: Sendable {
    private let idle = Mutex<[CurlHandle]>([])
    private let slots: DispatchSemaphore
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.slots = DispatchSemaphore(value: self.capacity)
    }

    /// Runs `body` with a handle of its own, waiting (without spinning) when all are busy.
    func withHandle<T>(_ body: (CurlHandle) throws -> T) throws -> T {
        slots.wait()
        defer { slots.signal() }
        let handle = try idle.withLock { $0.popLast() } ?? CurlHandle()
        defer { idle.withLock { $0.append(handle) } }
        return try body(handle)
    }

    /// Drops the idle handles and their connections; busy ones return to the pool later.
    func drain() {
        idle.withLock { $0.removeAll() }
    }
}

/// libcurl's version string, for logs.
var curlVersionDescription: String { String(cString: ccurl_version()) }
