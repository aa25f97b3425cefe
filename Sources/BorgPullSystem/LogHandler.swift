import Glibc
import Logging

/// A swift-log handler writing `PROGRAM: LEVEL: message` lines to stderr (the journal under
/// systemd adds time and pid itself).
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let program: String

    public init(program: String) { self.program = program }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let text = "\(program): \(event.level): \(event.message)\n"
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Installs the handler once per process.
    public static func bootstrap(program: String, level: Logger.Level = .info) {
        LoggingSystem.bootstrap { _ in
            var h = StderrLogHandler(program: program)
            h.logLevel = level
            return h
        }
    }
}

/// syslog(3), for output that must stay on the client when stderr is not the client's log:
/// the trigger's stderr is the ssh session, i.e. the server. Under systemd the journal reads
/// /dev/log (`journalctl -t borgpull-client`); without a syslog daemon the lines are dropped.
public enum SystemLog {
    /// openlog(3) keeps the pointer it is given: the identity lives as long as the process.
    nonisolated(unsafe) private static var ident: UnsafeMutablePointer<CChar>?

    /// Opens the log once, with `program` as the identity (LOG_PID, facility LOG_DAEMON).
    public static func open(program: String) {
        if ident == nil { ident = strdup(program) }
        openlog(ident, LOG_PID, LOG_DAEMON)
    }

    /// One line at `priority` (LOG_INFO by default), passed as data (`%s`), never as a format.
    public static func write(_ line: String, priority: Int32 = LOG_INFO) {
        line.withCString { text in withVaList([text]) { vsyslog(priority, "%s", $0) } }
    }
}
