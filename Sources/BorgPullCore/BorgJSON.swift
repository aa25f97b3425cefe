#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// borg's `create --json` output (borg 1.2 docs, "JSON output": `{"archive": {"name", "stats"}, ...}`).
public struct BorgCreateJSON: Sendable, Equatable {
    public var archiveName: String?
    public var stats: ArchiveStats?

    struct Top: Decodable { var archive: Archive? }
    struct Archive: Decodable { var name: String?; var stats: ArchiveStats? }

    /// Parses the bytes borg printed on stdout; nil if they are not borg's JSON.
    public static func parse(_ bytes: [UInt8]) -> BorgCreateJSON? {
        guard let top = try? JSONDecoder().decode(Top.self, from: Data(bytes)) else { return nil }
        return BorgCreateJSON(archiveName: top.archive?.name, stats: top.archive?.stats)
    }
}

extension BackupRecord {
    /// Pretty, key-sorted JSON of the record (stable for scripts and diffs).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Decodes a record written by `json()`.
    public static func decode(_ text: String) -> BackupRecord? {
        try? JSONDecoder().decode(BackupRecord.self, from: Data(text.utf8))
    }

    /// ISO 8601 UTC time of `seconds` since the epoch.
    public static func timestamp(_ secondsSince1970: Double) -> String {
        Date(timeIntervalSince1970: secondsSince1970).formatted(.iso8601)
    }
}

extension MaintenanceRecord {
    /// Key-sorted JSON on one line (`pretty`: indented), as the record file and `--json` hold it.
    public func json(pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Decodes a record written by `json()`; nil for anything else.
    public static func decode(_ text: String) -> MaintenanceRecord? {
        try? JSONDecoder().decode(MaintenanceRecord.self, from: Data(text.utf8))
    }
}

/// The audit of a client's maintenance on the server (`borgpull-check --server-config`): are
/// the COMPACT and CHECK timers of this client enabled, and how old and how good are the last
/// records. Findings `server.maintenance.timer` and `server.maintenance.last`.
public enum MaintenanceAudit {
    /// Ages after which a record is stale: twice the timers' intervals (weekly, monthly).
    public static let staleAfter: [ServerMode: Double] = [.compact: 15 * 86400, .check: 62 * 86400]

    /// - Parameters: `instance` is the config file's name without `.conf` (the timers'
    ///   instance), `enabled` whether each timer is enabled, `records` the last record of each
    ///   mode (nil: none yet), `now` seconds since 1970.
    public static func findings(configFile: String, instance: String, enabled: [ServerMode: Bool],
                                records: [ServerMode: MaintenanceRecord], recordPaths: [ServerMode: String],
                                now: Double) -> [Finding] {
        var out: [Finding] = []
        for mode in [ServerMode.compact, .check] {
            let unit = "borgpull-\(mode.rawValue.lowercased())@\(instance).timer"
            if enabled[mode] == true {
                out.append(Finding(.ok, check: "server.maintenance.timer", what: "\(unit) is enabled", location: unit,
                                   expected: "enabled", actual: "enabled"))
            } else {
                out.append(Finding(.warn, check: "server.maintenance.timer",
                                   what: mode == .compact ? "no weekly COMPACT: what the client prunes is never freed and the repository grows"
                                                          : "no monthly CHECK: damage to the repository goes unnoticed until a restore",
                                   location: unit, expected: "enabled", actual: "not enabled",
                                   fix: "systemctl enable --now \(unit)"))
            }
            let path = recordPaths[mode] ?? configFile
            guard let r = records[mode] else {
                out.append(Finding(.ok, check: "server.maintenance.last", what: "no \(mode.rawValue) has run yet for this client",
                                   location: path, expected: "a record after the first run", actual: "none"))
                continue
            }
            let finished = (try? Date(r.finished, strategy: .iso8601))?.timeIntervalSince1970
            let age = finished.map { max(0, now - $0) }
            let ageText = age.map { "\(Int($0 / 86400)) day(s) ago" } ?? "at an unreadable time"
            if r.status == ServerExit.repositoryDamaged.rawValue {
                out.append(Finding(.fail, check: "server.maintenance.last", what: "the last CHECK found the repository damaged: \(r.damage.first ?? r.message)",
                                   location: path, expected: "no problems found", actual: "\(r.name), \(ageText)",
                                   fix: "see README, \"When CHECK finds damage\"; then run borgpull-server -c \(configFile) CHECK"))
            } else if r.status != 0 {
                out.append(Finding(.warn, check: "server.maintenance.last", what: "the last \(mode.rawValue) did not succeed: \(r.message)",
                                   location: path, expected: "ok", actual: "\(r.name), \(ageText)",
                                   fix: "borgpull-server -c \(configFile) \(mode.rawValue)"))
            } else if let age, age > (staleAfter[mode] ?? .infinity) {
                out.append(Finding(.warn, check: "server.maintenance.last", what: "the last successful \(mode.rawValue) is old",
                                   location: path, expected: "within \(Int((staleAfter[mode] ?? 0) / 86400)) days", actual: ageText,
                                   fix: "systemctl status \(unit); borgpull-server -c \(configFile) \(mode.rawValue)"))
            } else {
                out.append(Finding(.ok, check: "server.maintenance.last", what: "the last \(mode.rawValue) succeeded", location: path,
                                   expected: "ok", actual: "ok, \(ageText)"))
            }
        }
        return out
    }
}
