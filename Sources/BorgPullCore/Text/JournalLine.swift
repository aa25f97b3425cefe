/// Log lines for stderr. Under systemd, stderr is a stream to the journal (`JOURNAL_STREAM`
/// is set to its `DEVICE:INODE`); there every line starts with its syslog priority, `<3>`
/// for an error ... `<7>` for debug, which journald strips and keeps as PRIORITY
/// (systemd.exec(5), `SyslogLevelPrefix=`, on by default). So `journalctl -p err` shows
/// exactly the errors. On a terminal or a pipe the lines stay plain.
public enum JournalLine {
    /// syslog(3) priorities.
    public enum Priority: Int, Sendable, Comparable {
        case emergency = 0, alert, critical, error, warning, notice, info, debug

        public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
    }

    /// Whether `journalStream` (the value of JOURNAL_STREAM) names the file stderr is, given
    /// stderr's `st_dev` and `st_ino` (sd_journal_stream_fd(3): compare both, since the
    /// variable is inherited by children whose stderr may be something else).
    public static func isJournal(_ journalStream: String?, device: UInt64, inode: UInt64) -> Bool {
        guard let value = journalStream else { return false }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let d = UInt64(parts[0]), let i = UInt64(parts[1]) else { return false }
        return d == device && i == inode
    }

    /// The text to write for `text` (one or more lines, without a final newline needed): for
    /// the journal every line carries the `<N>` prefix, a continuation line included; otherwise
    /// the text as it is. Always ends with a newline.
    public static func format(_ text: String, priority: Priority, journal: Bool) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.count > 1, lines.last == "" { lines.removeLast() }
        let prefix = journal ? "<\(priority.rawValue)>" : ""
        return lines.map { prefix + $0 + "\n" }.joined()
    }
}
