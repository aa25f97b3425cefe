import BorgPullCore
import Glibc
import Logging

/// Lines to stderr. When stderr is the journal (JOURNAL_STREAM names it), every line carries
/// its syslog priority prefix (`JournalLine`); elsewhere lines are plain.
public enum StderrLog {
    /// Decided once per process from JOURNAL_STREAM and fstat(2) of descriptor 2.
    public static let toJournal: Bool = {
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return JournalLine.isJournal(Environment.get("JOURNAL_STREAM"), device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }()

    /// Writes `text` (one or more lines) at `priority` in one write(2).
    public static func write(_ text: String, priority: JournalLine.Priority) {
        raw(JournalLine.format(text, priority: priority, journal: toJournal))
    }

    /// Writes `line` and a newline as they are, in one write(2): no priority prefix, and
    /// nothing decided for the process (`toJournal` is not read). For stderr that a program
    /// reads rather than the journal: the sandbox-exec child's step lines (single-threaded,
    /// before exec, with no logging set up), the relay's (borg shows them) and the trigger's
    /// (the ssh session to the server).
    public static func plain(_ line: String) { raw(line + "\n") }

    /// One write(2) of `text`'s UTF-8 bytes to descriptor 2; a short or failed write is dropped.
    private static func raw(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// The syslog priority of a swift-log level.
    public static func priority(_ level: Logger.Level) -> JournalLine.Priority {
        switch level {
        case .trace, .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }
}

/// A swift-log handler writing `PROGRAM: LEVEL: message` lines to stderr (the journal under
/// systemd adds time and pid itself, and reads the priority from `StderrLog`'s prefix).
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
        StderrLog.write("\(program): \(event.level): \(event.message)", priority: StderrLog.priority(event.level))
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
