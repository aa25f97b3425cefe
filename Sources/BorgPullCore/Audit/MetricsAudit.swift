/// The audit of a client's metrics textfile directory (`borgpull-check --server-config`,
/// finding `server.metrics`): node-exporter's textfile collector reads
/// `PROMETHEUS_TEXTFILE_DIR/*.prom` (node_exporter README, "Textfile Collector"); each run writes
/// `borgpull-REPO_NAME.prom` there, and a missing directory only costs the metrics.
public enum MetricsAudit {
    /// - Parameters: `dir` the config's PROMETHEUS_TEXTFILE_DIR (nil: metrics off), `facts` its
    ///   lstat (nil: absent).
    public static func finding(configFile: String, dir: String?, facts: FileFacts?) -> Finding {
        let location = "\(configFile): PROMETHEUS_TEXTFILE_DIR"
        guard let dir else {
            return Finding(
                .ok, check: "server.metrics", what: "no metrics textfile (PROMETHEUS_TEXTFILE_DIR is empty)",
                location: location, expected: "a directory or empty", actual: "empty")
        }
        guard let facts else {
            return Finding(
                .warn, check: "server.metrics", what: "the metrics textfile directory does not exist: runs write no metrics",
                location: location, expected: "a directory", actual: "\(dir) missing",
                fix: "apt-get install prometheus-node-exporter, or set PROMETHEUS_TEXTFILE_DIR= (empty) in \(configFile)")
        }
        guard facts.kind == .directory else {
            return Finding(
                .warn, check: "server.metrics",
                what: "the metrics textfile directory is not a real directory (a symlink is never followed): runs write no metrics",
                location: location, expected: "a directory", actual: "\(dir) is a \(facts.kind.rawValue)",
                fix: "set PROMETHEUS_TEXTFILE_DIR to the directory node-exporter reads (--collector.textfile.directory)")
        }
        return Finding(
            .ok, check: "server.metrics", what: "runs write borgpull-REPO_NAME.prom into \(dir)",
            location: location, expected: "a directory", actual: "a directory")
    }
}
