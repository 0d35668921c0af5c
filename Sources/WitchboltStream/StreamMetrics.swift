// Licensed under the Apache License, Version 2.0.
//
// swift-metrics instruments of the stream: per replica, the lag and the last txid held
// (gauges) and the bytes, objects, errors and retries of shipping (counters); for the
// controller, the data-loss window, the generations started and the commits dropped. With no
// metrics backend bootstrapped they cost nothing.

import Metrics

/// The stream's metrics.
struct StreamMetrics: Sendable {
    struct Replica: Sendable {
        let lagSeconds: Gauge
        let txID: Gauge
        let bytes: Counter
        let objects: Counter
        let errors: Counter
        let retries: Counter

        init(name: String) {
            let dimensions = [("replica", name)]
            lagSeconds = Gauge(label: "witchbolt_stream_replica_lag_seconds", dimensions: dimensions)
            txID = Gauge(label: "witchbolt_stream_replica_txid", dimensions: dimensions)
            bytes = Counter(label: "witchbolt_stream_replica_bytes_total", dimensions: dimensions)
            objects = Counter(label: "witchbolt_stream_replica_objects_total", dimensions: dimensions)
            errors = Counter(label: "witchbolt_stream_replica_errors_total", dimensions: dimensions)
            retries = Counter(label: "witchbolt_stream_replica_retries_total", dimensions: dimensions)
        }
    }

    let dataLossWindowSeconds = Gauge(label: "witchbolt_stream_data_loss_window_seconds")
    let txID = Gauge(label: "witchbolt_stream_txid")
    let generations = Counter(label: "witchbolt_stream_generations_total")
    let droppedCommits = Counter(label: "witchbolt_stream_dropped_commits_total")
    let replicas: [Replica]

    init(replicaNames: [String]) {
        replicas = replicaNames.map(Replica.init(name:))
    }

    /// Publishes the lag figures of a status.
    func record(_ status: StreamStatus) {
        dataLossWindowSeconds.record(Double(status.dataLossWindowMillis) / 1000)
        if let txid = status.lastTxID { txID.record(Int64(bitPattern: txid)) }
        for (metrics, replica) in zip(replicas, status.replicas) {
            metrics.lagSeconds.record(Double(replica.lagMillis) / 1000)
            if let txid = replica.lastTxID { metrics.txID.record(Int64(bitPattern: txid)) }
        }
    }
}
