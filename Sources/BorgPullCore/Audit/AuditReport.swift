/// The result of a borgpull-check run: findings, counts and the exit status.
///
/// This is also the `--json` document (schema version 1, documented in README.md, "--json schema"):
/// ```
/// { "schema": "borgpull-check", "version": 1, "exitStatus": 0|1|2,
///   "worst": "OK"|"WARN"|"FAIL",
///   "summary": { "ok": N, "warn": N, "fail": N, "total": N },
///   "findings": [ { "severity": "OK"|"WARN"|"FAIL", "check": "...", "what": "...",
///                   "location": "...", "expected": "...", "actual": "...", "fix": "..." } ] }
/// ```
/// Fields are only ever added within a version; a rename or removal bumps `version`.
public struct AuditReport: Sendable, Equatable, Codable {
    public struct Summary: Sendable, Equatable, Codable {
        public var ok: Int
        public var warn: Int
        public var fail: Int
        public var total: Int
    }

    /// Exit statuses of borgpull-check (and the meaning of `exitStatus`).
    public enum ExitStatus {
        /// Every finding is OK.
        public static let ok: Int32 = 0
        /// At least one WARN, no FAIL.
        public static let warn: Int32 = 1
        /// At least one FAIL.
        public static let fail: Int32 = 2
        /// Usage error (bad option), as sysexits.h EX_USAGE; no audit ran.
        public static let usage: Int32 = 64
    }

    public static let schemaName = "borgpull-check"
    public static let schemaVersion = 1

    public var schema: String
    public var version: Int
    public var exitStatus: Int32
    public var worst: Finding.Severity
    public var summary: Summary
    public var findings: [Finding]

    public init(findings: [Finding]) {
        let worst = findings.map(\.severity).max() ?? .ok
        self.schema = Self.schemaName
        self.version = Self.schemaVersion
        self.findings = findings
        self.worst = worst
        self.exitStatus = Self.exitStatus(for: worst)
        self.summary = Summary(
            ok: findings.filter { $0.severity == .ok }.count,
            warn: findings.filter { $0.severity == .warn }.count,
            fail: findings.filter { $0.severity == .fail }.count,
            total: findings.count)
    }

    /// 0 all OK, 1 worst is WARN, 2 worst is FAIL.
    public static func exitStatus(for worst: Finding.Severity) -> Int32 {
        switch worst {
        case .ok: return ExitStatus.ok
        case .warn: return ExitStatus.warn
        case .fail: return ExitStatus.fail
        }
    }

    /// The human report: findings grouped by check area (the part of `check` before the first
    /// dot), FAIL and WARN in full, OK as one line each unless `quietOK`, then a summary line.
    public func humanText(quietOK: Bool = false) -> String {
        var out = ""
        var groups: [String] = []
        var byGroup: [String: [Finding]] = [:]
        for f in findings {
            let g = String(f.check.split(separator: ".").first ?? Substring(f.check))
            if byGroup[g] == nil { groups.append(g) }
            byGroup[g, default: []].append(f)
        }
        for g in groups {
            let fs = byGroup[g] ?? []
            let shown = quietOK ? fs.filter { $0.severity != .ok } : fs
            if shown.isEmpty { continue }
            out += "== \(g) ==\n"
            for f in shown {
                let tag = f.severity.rawValue.padding(4)
                if f.severity == .ok {
                    out += "  \(tag) \(f.what) (\(f.location))\n"
                } else {
                    out += "  \(tag) \(f.what)\n"
                    out += "       where:    \(f.location)\n"
                    out += "       expected: \(f.expected)\n"
                    out += "       actual:   \(f.actual)\n"
                    if !f.fix.isEmpty { out += "       fix:      \(f.fix)\n" }
                }
            }
        }
        out += "borgpull-check: \(summary.fail) FAIL, \(summary.warn) WARN, \(summary.ok) OK -> \(worst.rawValue) (exit \(exitStatus))\n"
        return out
    }
}
