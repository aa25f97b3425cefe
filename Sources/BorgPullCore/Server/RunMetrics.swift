// The client's metrics for node-exporter's textfile collector, derived from its history.
//
// Why swift-prometheus: it renders the text exposition format (HELP and TYPE lines, label
// escaping, float values) that node-exporter and promtool read; a textfile is that format
// without timestamps, and the metrics here are gauges whose values are the times of events
// (`*_timestamp_seconds`, Prometheus naming practice), so a fresh registry per write fits.
// Its output order is not fixed (a dictionary); Prometheus does not care.

import Prometheus

/// Gauges of one client, labelled `client="REPO_NAME"`. Sources: Prometheus docs,
/// "Exposition formats" and "Metric and label naming"; node_exporter README, "Textfile
/// Collector".
public enum RunMetrics {
    /// The metric names, with their help text. `*_timestamp_seconds` are seconds since 1970
    /// and 0 when there was no such run yet (so `time() - metric` alerts fire for a client that
    /// never succeeded); the others are absent until the first run that measures them.
    public static let help: [(name: String, help: String)] = [
        ("borgpull_last_success_timestamp_seconds", "End of the last BACKUP that succeeded (ok or with warnings), 0 if none."),
        ("borgpull_last_run_timestamp_seconds", "End of the last BACKUP, whatever its outcome."),
        ("borgpull_last_run_status", "Exit status of borgpull-server for the last BACKUP (0 ok, 1 warnings, 2 and more failed)."),
        ("borgpull_last_run_duration_seconds", "Wall-clock duration of the last BACKUP."),
        ("borgpull_last_archive_original_bytes", "Original size of the archive of the last successful BACKUP."),
        ("borgpull_last_archive_deduplicated_bytes", "Deduplicated size (new data) of the archive of the last successful BACKUP."),
        ("borgpull_repository_disk_bytes", "Bytes of the files below REPO_DIR, measured after the last run."),
        ("borgpull_last_compact_timestamp_seconds", "End of the last COMPACT that succeeded, 0 if none."),
        ("borgpull_last_check_success_timestamp_seconds", "End of the last CHECK that found no problems, 0 if none."),
        ("borgpull_last_check_status", "Exit status of the last CHECK (0 ok, 11 repository damaged)."),
        ("borgpull_max_backup_age_seconds", "MAX_BACKUP_AGE of the client's config: the age after which its last success is stale.")
    ]

    /// The values of `help`'s metrics for `history`; nil means the metric is left out.
    public static func values(history h: RunHistory, maxAgeSeconds: Int) -> [String: Double] {
        var v: [String: Double] = [:]
        v["borgpull_last_success_timestamp_seconds"] = h.lastSuccess(.backup)?.finishedSeconds ?? 0
        if let last = h.last(.backup) {
            v["borgpull_last_run_timestamp_seconds"] = last.finishedSeconds
            v["borgpull_last_run_status"] = Double(last.status)
            v["borgpull_last_run_duration_seconds"] = last.seconds
        }
        if let stats = h.lastSuccess(.backup)?.record?.stats {
            v["borgpull_last_archive_original_bytes"] = stats.originalSize.map(Double.init)
            v["borgpull_last_archive_deduplicated_bytes"] = stats.deduplicatedSize.map(Double.init)
        }
        v["borgpull_repository_disk_bytes"] = h.repositoryBytes.map(Double.init)
        v["borgpull_last_compact_timestamp_seconds"] = h.lastSuccess(.compact)?.finishedSeconds ?? 0
        v["borgpull_last_check_success_timestamp_seconds"] = h.records.last { $0.mode == ServerMode.check.rawValue && $0.status == 0 }?.finishedSeconds ?? 0
        v["borgpull_last_check_status"] = h.last(.check).map { Double($0.status) }
        v["borgpull_max_backup_age_seconds"] = Double(maxAgeSeconds)
        return v
    }

    /// The text of `borgpull-CLIENT.prom` (Prometheus text format 0.0.4).
    public static func text(client: String, history: RunHistory, maxAgeSeconds: Int) -> String {
        let registry = PrometheusCollectorRegistry()
        let values = values(history: history, maxAgeSeconds: maxAgeSeconds)
        for (name, help) in help {
            guard let value = values[name] else { continue }
            // The whole name is `metricName` (its units are part of it: `_seconds`, `_bytes`).
            let descriptor = MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
            registry.makeGauge(descriptor: descriptor, labels: [("client", client)]).set(value)
        }
        return registry.emitToString()
    }

    /// The file name in the textfile directory: `borgpull-REPO_NAME.prom`.
    public static func fileName(client: String) -> String { "borgpull-\(client).prom" }
}
