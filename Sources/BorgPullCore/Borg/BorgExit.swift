/// What a borg return code means.
///
/// Source: borg 1.2/1.4 documentation, "General > Return codes": 0 success, 1 warning,
/// 2 error, 128+N killed by signal N; with `BORG_EXIT_CODES=modern` errors are 3-99 (2 stays
/// the generic error) and warnings 100-127. The ranges do not overlap, so one mapping serves
/// both modes.
public enum BorgOutcome: Sendable, Equatable, Codable {
    case success
    /// The operation reached its end but borg warned (for example a file vanished or was
    /// unreadable). Never silent: it shows in the summary and the result record.
    case warning(rc: Int32)
    case error(rc: Int32)
    /// Killed by signal N (either reported by wait(2) or as rc 128+N).
    case signaled(Int32)

    /// Maps an exit code from wait(2).
    public init(exitCode rc: Int32) {
        switch rc {
        case 0: self = .success
        case 1, 100...127: self = .warning(rc: rc)
        case 129...255: self = .signaled(rc - 128)
        default: self = .error(rc: rc)
        }
    }

    public var isFailure: Bool {
        switch self {
        case .success, .warning: return false
        case .error, .signaled: return true
        }
    }

    public var summary: String {
        switch self {
        case .success: return "ok"
        case .warning(let rc): return "warning (rc \(rc))"
        case .error(let rc): return "error (rc \(rc))"
        case .signaled(let s): return "killed by signal \(s)"
        }
    }
}

/// Picks the line of borg's stderr that says what went wrong.
///
/// After a traceback borg prints an environment block (`Platform:`, `Linux:`, `Borg:`,
/// `Python:`, `PID:`, `sys.argv:`, `SSH_ORIGINAL_COMMAND:`; borg 1.2 `archiver.py`), so the last
/// line is rarely the error. This skips that block and indented traceback lines.
public enum BorgMessages {
    static let environmentBlock = ["Platform:", "Linux:", "Borg:", "Python:", "PID:", "sys.argv:", "SSH_ORIGINAL_COMMAND:"]

    public static func headline(_ tail: [String]) -> String? {
        for line in tail.reversed() {
            let t = line.trimmingBlanks()
            if t.isEmpty || line.first == " " || line.first == "\t" { continue }
            if environmentBlock.contains(where: { t.hasPrefix($0) }) { continue }
            if t.hasPrefix("Traceback (most recent call last)") { continue }
            return t
        }
        return nil
    }
}
