// Licensed under the Apache License, Version 2.0.
//
// The one file that talks to libnats (nats.c 3.4.1). It opens a connection and its JetStream
// context, and offers the handful of JetStream calls the object store protocol is built on:
// stream info, publish (with headers), get a stored message (direct or through the API),
// purge a subject, and an ordered push consumer read one message at a time. Every pointer
// stays in here; callers get Swift copies (`NATSStoredMessage`, `NATSDeliveredMessage`) and
// `NATSFailure`, a classified error the replica client turns into `StreamError`.
//
// libnats connections and JetStream contexts are thread-safe: many threads may publish and
// read at once on one connection, which is what the replica's concurrent writers do.

import CNats
#if canImport(Glibc)
import Glibc
#endif

/// How to reach and authenticate to a NATS server (already resolved from `NATSReplicaConfig`).
struct NATSConnectionSettings: Sendable {
    var servers: [String]
    var name = "witchbolt-stream"
    var user: String?
    var password: String?
    var token: String?
    var credentialsFile: String?
    var nkeyPublicKey: String?
    var nkeySeedFile: String?
    var tlsRootCAPEM: String?
    var tlsCertificateFile: String?
    var tlsKeyFile: String?
    var requiresTLS = false
    var connectTimeoutMilliseconds: Int64 = 5_000
    var requestTimeoutMilliseconds: Int64 = 5_000
    var reconnectWaitMilliseconds: Int64 = 250
}

/// A failed libnats call, classified for retry decisions.
struct NATSFailure: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        /// No such message (or stream, see `apiCode`).
        case notFound
        /// The server refused our credentials or a permission.
        case accessDenied
        /// Not connected, connection lost, timed out, or no responder: retrying may help.
        case transient
        /// Bad arguments or configuration on our side (file not found, TLS setup...).
        case configuration
        /// Anything else the server or library reported.
        case other
    }

    var kind: Kind
    /// The libnats call that failed, e.g. `js_PublishMsg`.
    var call: String
    /// libnats' words for the status, plus the last error detail.
    var text: String
    /// The JetStream API error code (e.g. 10059 stream not found), 0 if none.
    var apiCode: Int

    var description: String { "\(call): \(text)" + (apiCode != 0 ? " (JetStream error \(apiCode))" : "") }

    /// Whether the JetStream API said the stream does not exist.
    var isStreamNotFound: Bool { apiCode == Int(JSStreamNotFoundErr.rawValue) }
}

/// What the replica needs to know about the bucket's stream.
struct NATSStreamSummary: Sendable {
    var name: String
    var subjects: [String]
    var allowsDirectGet: Bool
    var allowsRollup: Bool
    /// Messages in the stream when the summary was taken (chunks and metas of every object).
    var messageCount: UInt64
}

/// A message read from a stream by sequence or subject.
struct NATSStoredMessage: Sendable {
    var subject: String
    var sequence: UInt64
    var data: [UInt8]
}

/// A message delivered by an ordered consumer.
struct NATSDeliveredMessage: Sendable {
    var subject: String
    /// The message's sequence in the stream.
    var streamSequence: UInt64
    /// How many messages the consumer still has to deliver after this one.
    var pending: UInt64
    /// When the stream stored the message, in nanoseconds since 1970.
    var timestamp: Int64
    /// The payload (empty on a headers-only consumer).
    var data: [UInt8]
    /// The payload's size: `data.count`, or the `Nats-Msg-Size` header on a headers-only consumer.
    var payloadSize: Int
}

/// One connection to a NATS server with its JetStream context.
final class NATSConnection: @unchecked Sendable {
    // @unchecked Sendable because the handles are set once in init and libnats makes
    // natsConnection and jsCtx safe to use from many threads; `destroy` runs only from deinit.
    private let connection: OpaquePointer
    private let jetStream: OpaquePointer
    private let requestTimeoutMilliseconds: Int64

    /// Connects; throws a classified failure (`.transient` when no server answers).
    init(settings: NATSConnectionSettings) throws {
        var options: OpaquePointer?
        try Self.check(natsOptions_Create(&options), "natsOptions_Create")
        defer { natsOptions_Destroy(options) }
        try Self.configure(options, settings)

        var connection: OpaquePointer?
        try Self.check(natsConnection_Connect(&connection, options), "natsConnection_Connect")
        var jsOptions = jsOptions()
        jsOptions_Init(&jsOptions)
        jsOptions.Wait = settings.requestTimeoutMilliseconds
        var jetStream: OpaquePointer?
        let status = natsConnection_JetStream(&jetStream, connection, &jsOptions)
        guard status == NATS_OK, let connection, let jetStream else {
            natsConnection_Destroy(connection)
            throw Self.failure(status, "natsConnection_JetStream")
        }
        self.connection = connection
        self.jetStream = jetStream
        self.requestTimeoutMilliseconds = settings.requestTimeoutMilliseconds
    }

    deinit {
        jsCtx_Destroy(jetStream)
        natsConnection_Close(connection)
        natsConnection_Destroy(connection)
    }

    /// Whether libnats gave up on this connection (it then must be replaced).
    var isClosed: Bool { natsConnection_Status(connection) == NATS_CONN_STATUS_CLOSED }

    /// Whether the connection is up right now (not reconnecting).
    var isConnected: Bool { natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED }

    // MARK: Streams

    /// The stream's configuration summary. The corresponding C function is `js_GetStreamInfo`.
    func streamInfo(_ stream: String) throws -> NATSStreamSummary {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        try Self.check(js_GetStreamInfo(&info, jetStream, stream, nil, &code), "js_GetStreamInfo", code)
        defer { jsStreamInfo_Destroy(info) }
        guard let config = info?.pointee.Config?.pointee else {
            throw NATSFailure(kind: .other, call: "js_GetStreamInfo", text: "no stream configuration in the answer", apiCode: 0)
        }
        var subjects: [String] = []
        for i in 0..<Int(config.SubjectsLen) {
            if let subject = config.Subjects?[i] { subjects.append(String(cString: subject)) }
        }
        return NATSStreamSummary(
            name: config.Name.map { String(cString: $0) } ?? stream,
            subjects: subjects,
            allowsDirectGet: config.AllowDirect,
            allowsRollup: config.AllowRollup,
            messageCount: info?.pointee.State.Msgs ?? 0
        )
    }

    /// Purges the messages on `subject` from `stream`, all of them or only those before
    /// sequence `before`. The corresponding C function is `js_PurgeStream`.
    func purge(stream: String, subject: String, before: UInt64? = nil) throws {
        try subject.withCString { subjectPointer in
            var options = jsOptions()
            jsOptions_Init(&options)
            options.Stream.Purge.Subject = subjectPointer
            if let before { options.Stream.Purge.Sequence = before }
            var code = jsErrCode(0)
            try Self.check(js_PurgeStream(jetStream, stream, &options, &code), "js_PurgeStream", code)
        }
    }

    // MARK: Publishing

    /// Publishes `payload` on `subject` with `headers` and waits for the stream's ack.
    /// Returns the stored sequence. The corresponding C function is `js_PublishMsg`.
    @discardableResult
    func publish(subject: String, payload: ArraySlice<UInt8>, headers: [(String, String)] = []) throws -> UInt64 {
        var message: OpaquePointer?
        let created = payload.withUnsafeBytes { buffer in
            natsMsg_Create(&message, subject, nil, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(buffer.count))
        }
        try Self.check(created, "natsMsg_Create")
        defer { natsMsg_Destroy(message) }
        for (name, value) in headers {
            try Self.check(natsMsgHeader_Set(message, name, value), "natsMsgHeader_Set")
        }
        var options = jsPubOptions()
        jsPubOptions_Init(&options)
        options.MaxWait = requestTimeoutMilliseconds
        var ack: UnsafeMutablePointer<jsPubAck>?
        var code = jsErrCode(0)
        try Self.check(js_PublishMsg(&ack, jetStream, message, &options, &code), "js_PublishMsg", code)
        defer { jsPubAck_Destroy(ack) }
        return ack?.pointee.Sequence ?? 0
    }

    // MARK: Reading stored messages

    /// The last message on `subject`, or nil when there is none.
    /// The corresponding C functions are `js_DirectGetMsg` (LastBySubject) and `js_GetLastMsg`.
    func lastMessage(stream: String, subject: String, direct: Bool) throws -> NATSStoredMessage? {
        var message: OpaquePointer?
        var code = jsErrCode(0)
        let status: natsStatus
        if direct {
            status = subject.withCString { subjectPointer in
                var options = jsDirectGetMsgOptions()
                jsDirectGetMsgOptions_Init(&options)
                options.LastBySubject = subjectPointer
                return js_DirectGetMsg(&message, jetStream, stream, nil, &options)
            }
        } else {
            status = js_GetLastMsg(&message, jetStream, stream, subject, nil, &code)
        }
        return try Self.stored(message, status, direct ? "js_DirectGetMsg" : "js_GetLastMsg", code)
    }

    /// The message at `sequence`, or nil when there is none.
    /// The corresponding C functions are `js_DirectGetMsg` (Sequence) and `js_GetMsg`.
    func message(stream: String, sequence: UInt64, direct: Bool) throws -> NATSStoredMessage? {
        var message: OpaquePointer?
        var code = jsErrCode(0)
        let status: natsStatus
        if direct {
            var options = jsDirectGetMsgOptions()
            jsDirectGetMsgOptions_Init(&options)
            options.Sequence = sequence
            status = js_DirectGetMsg(&message, jetStream, stream, nil, &options)
        } else {
            status = js_GetMsg(&message, jetStream, stream, sequence, nil, &code)
        }
        return try Self.stored(message, status, direct ? "js_DirectGetMsg" : "js_GetMsg", code)
    }

    // MARK: Ordered consumers

    /// Starts an ordered push consumer on `subject` (wildcards allowed).
    /// - Parameters:
    ///   - lastPerSubject: deliver only the last message of each subject.
    ///   - headersOnly: deliver no payloads, only their sizes.
    func orderedConsumer(subject: String, lastPerSubject: Bool, headersOnly: Bool) throws -> NATSOrderedConsumer {
        var options = jsSubOptions()
        jsSubOptions_Init(&options)
        options.Ordered = true
        options.Config.HeadersOnly = headersOnly
        if lastPerSubject { options.Config.DeliverPolicy = js_DeliverLastPerSubject }
        var subscription: OpaquePointer?
        var code = jsErrCode(0)
        try Self.check(js_SubscribeSync(&subscription, jetStream, subject, nil, &options, &code), "js_SubscribeSync", code)
        guard let subscription else {
            throw NATSFailure(kind: .other, call: "js_SubscribeSync", text: "no subscription returned", apiCode: 0)
        }
        // An ordered consumer is read to its end by one caller; allow a large backlog so a
        // slow sink does not turn into a slow-consumer drop (flow control bounds it anyway).
        natsSubscription_SetPendingLimits(subscription, 1 << 20, 256 << 20)
        return NATSOrderedConsumer(subscription: subscription, headersOnly: headersOnly)
    }

    // MARK: Status handling

    private static func configure(_ options: OpaquePointer?, _ settings: NATSConnectionSettings) throws {
        // Servers, name and the reconnect policy: reconnect forever in the background; each
        // operation bounds its own wait and the replica client retries with backoff.
        var servers = settings.servers.map { strdup($0) }
        defer { servers.forEach { free($0) } }
        let serverCount = Int32(servers.count)
        try servers.withUnsafeMutableBufferPointer { buffer in
            try buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { base in
                try check(natsOptions_SetServers(options, base, serverCount), "natsOptions_SetServers")
            }
        }
        try check(natsOptions_SetName(options, settings.name), "natsOptions_SetName")
        try check(natsOptions_SetTimeout(options, settings.connectTimeoutMilliseconds), "natsOptions_SetTimeout")
        try check(natsOptions_SetAllowReconnect(options, true), "natsOptions_SetAllowReconnect")
        try check(natsOptions_SetMaxReconnect(options, -1), "natsOptions_SetMaxReconnect")
        try check(natsOptions_SetReconnectWait(options, settings.reconnectWaitMilliseconds), "natsOptions_SetReconnectWait")
        try check(natsOptions_SetFailRequestsOnDisconnect(options, true), "natsOptions_SetFailRequestsOnDisconnect")

        // Authentication: at most one of credentials file, NKey, user/password, token.
        if let file = settings.credentialsFile {
            try check(natsOptions_SetUserCredentialsFromFiles(options, file, nil), "natsOptions_SetUserCredentialsFromFiles")
        } else if let seedFile = settings.nkeySeedFile, let publicKey = settings.nkeyPublicKey {
            try check(natsOptions_SetNKeyFromSeed(options, publicKey, seedFile), "natsOptions_SetNKeyFromSeed")
        }
        if let user = settings.user {
            try check(natsOptions_SetUserInfo(options, user, settings.password), "natsOptions_SetUserInfo")
        }
        if let token = settings.token {
            try check(natsOptions_SetToken(options, token), "natsOptions_SetToken")
        }

        // TLS: root CAs to trust and an optional client certificate.
        if settings.requiresTLS || settings.tlsRootCAPEM != nil || settings.tlsCertificateFile != nil {
            try check(natsOptions_SetSecure(options, true), "natsOptions_SetSecure")
        }
        if let pem = settings.tlsRootCAPEM {
            try check(natsOptions_SetCATrustedCertificates(options, pem), "natsOptions_SetCATrustedCertificates")
        }
        if let certificate = settings.tlsCertificateFile, let key = settings.tlsKeyFile {
            try check(natsOptions_LoadCertificatesChain(options, certificate, key), "natsOptions_LoadCertificatesChain")
        }
    }

    private static func stored(_ message: OpaquePointer?, _ status: natsStatus, _ call: String, _ code: jsErrCode) throws -> NATSStoredMessage? {
        defer { natsMsg_Destroy(message) }
        if status == NATS_NOT_FOUND { return nil }
        try check(status, call, code)
        guard let message else { return nil }
        return NATSStoredMessage(
            subject: natsMsg_GetSubject(message).map { String(cString: $0) } ?? "",
            sequence: natsMsg_GetSequence(message),
            data: copyData(message)
        )
    }

    static func copyData(_ message: OpaquePointer) -> [UInt8] {
        let count = Int(natsMsg_GetDataLength(message))
        guard count > 0, let data = natsMsg_GetData(message) else { return [] }
        return UnsafeRawBufferPointer(start: data, count: count).map { $0 }
    }

    static func check(_ status: natsStatus, _ call: String, _ code: jsErrCode = jsErrCode(0)) throws {
        if status != NATS_OK { throw failure(status, call, code) }
    }

    static func failure(_ status: natsStatus, _ call: String, _ code: jsErrCode = jsErrCode(0)) -> NATSFailure {
        let statusText = String(cString: natsStatus_GetText(status))
        var lastStatus = NATS_OK
        let detail = nats_GetLastError(&lastStatus).map { String(cString: $0) } ?? ""
        let text = detail.isEmpty || detail == statusText ? statusText : "\(statusText): \(detail)"
        return NATSFailure(kind: classify(status, code), call: call, text: text, apiCode: Int(code.rawValue))
    }

    private static func classify(_ status: natsStatus, _ code: jsErrCode) -> NATSFailure.Kind {
        switch status {
        case NATS_NOT_FOUND: return .notFound
        case NATS_CONNECTION_AUTH_FAILED, NATS_NOT_PERMITTED: return .accessDenied
        case NATS_CONNECTION_CLOSED, NATS_NO_SERVER, NATS_STALE_CONNECTION, NATS_CONNECTION_DISCONNECTED,
             NATS_IO_ERROR, NATS_TIMEOUT, NATS_NO_RESPONDERS, NATS_NOT_YET_CONNECTED, NATS_SLOW_CONSUMER,
             NATS_MISSED_HEARTBEAT, NATS_MISMATCH, NATS_DRAINING:
            return .transient
        case NATS_INVALID_ARG, NATS_ADDRESS_MISSING, NATS_INVALID_SUBJECT, NATS_SSL_ERROR,
             NATS_SECURE_CONNECTION_WANTED, NATS_SECURE_CONNECTION_REQUIRED:
            return .configuration
        default:
            return code.rawValue == JSStreamNotFoundErr.rawValue ? .notFound : .other
        }
    }
}

/// An ordered push consumer, read one message at a time by one caller, then dropped.
final class NATSOrderedConsumer {
    private let subscription: OpaquePointer
    private let headersOnly: Bool

    fileprivate init(subscription: OpaquePointer, headersOnly: Bool) {
        self.subscription = subscription
        self.headersOnly = headersOnly
    }

    deinit {
        natsSubscription_Unsubscribe(subscription)
        natsSubscription_Destroy(subscription)
    }

    /// The next message, waiting at most `timeoutMilliseconds`.
    /// The corresponding C function is `natsSubscription_NextMsg`.
    func next(timeoutMilliseconds: Int64) throws -> NATSDeliveredMessage {
        var message: OpaquePointer?
        try NATSConnection.check(natsSubscription_NextMsg(&message, subscription, timeoutMilliseconds), "natsSubscription_NextMsg")
        guard let message else {
            throw NATSFailure(kind: .other, call: "natsSubscription_NextMsg", text: "no message returned", apiCode: 0)
        }
        defer { natsMsg_Destroy(message) }
        var metadata: UnsafeMutablePointer<jsMsgMetaData>?
        try NATSConnection.check(natsMsg_GetMetaData(&metadata, message), "natsMsg_GetMetaData")
        defer { jsMsgMetaData_Destroy(metadata) }
        let data = headersOnly ? [] : NATSConnection.copyData(message)
        var payloadSize = data.count
        if headersOnly {
            var value: UnsafePointer<CChar>?
            if natsMsgHeader_Get(message, "Nats-Msg-Size", &value) == NATS_OK, let value {
                payloadSize = Int(String(cString: value)) ?? 0
            }
        }
        return NATSDeliveredMessage(
            subject: natsMsg_GetSubject(message).map { String(cString: $0) } ?? "",
            streamSequence: metadata?.pointee.Sequence.Stream ?? 0,
            pending: metadata?.pointee.NumPending ?? 0,
            timestamp: metadata?.pointee.Timestamp ?? 0,
            data: data,
            payloadSize: payloadSize
        )
    }
}
