/// The trigger: sshd's ForceCommand starts exactly one unit, authorized either by a polkit rule
/// (default, no setuid) or by a sudoers line (fallback). Anything that grants the ssh user more
/// than `start` of that one unit is a FAIL.
public enum TriggerRules {
    /// The unit the trigger starts.
    public static let unit = "run-borg-backup.service"
    /// The only command the sudoers fallback may allow (policy/sudoers/borgpull).
    public static let sudoCommand = "/usr/bin/systemctl start run-borg-backup.service"
    /// The polkit action systemd checks for `systemctl start` (systemd >= 226 passes the
    /// details `unit` and `verb`).
    public static let polkitAction = "org.freedesktop.systemd1.manage-units"
}

/// What the trigger analysis found in one policy source.
public struct TriggerAnalysis: Sendable, Equatable {
    public var findings: [Finding] = []
    /// A rule grants the ssh user `start` of the unit (narrowly or not).
    public var grantsTrigger = false
    public init(findings: [Finding] = [], grantsTrigger: Bool = false) {
        self.findings = findings
        self.grantsTrigger = grantsTrigger
    }
}

extension String {
    /// How often `word` occurs in the string (plain substring count).
    func components(separatedByWord word: String) -> Int {
        guard !word.isEmpty else { return 0 }
        var n = 0
        var rest = Substring(self)
        while let r = rest.firstRange(of: word) { n += 1; rest = rest[r.upperBound...] }
        return n
    }
}
