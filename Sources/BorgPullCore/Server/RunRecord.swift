// The server's record of one run for one client. One type for every use: what `--json`
// prints, the line appended to the client's history (`STATE_DIR/history.jsonl`), the
// `last-compact.json` / `last-check.json` files and what monitoring reads.

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One BACKUP, COMPACT or CHECK of one client, as the server saw it. Schema `version` 1; JSON
/// with sorted keys and snake_case names (README, "The run record"). Fields are only added
/// within a version; every field but `version`, `mode`, `status`, `name` and `message` may be
/// absent (a run that failed before its config was read has no client).
public struct RunRecord: Codable, Equatable, Sendable {
    public var version = 1
    /// `BACKUP`, `COMPACT` or `CHECK` (`ServerMode.rawValue`).
    public var mode: String
    /// REPO_NAME of the client's server config.
    public var client: String?
    /// BACKUP: `REMOTE_USER@REMOTE_HOST:SSH_PORT`, the ssh target.
    public var target: String?
    /// REPO_DIR.
    public var repository: String?
    /// ISO 8601 UTC (`2026-12-01T03:00:00Z`), start and end of the run on the server.
    public var started: String?
    public var finished: String?
    /// Wall-clock duration of the run in seconds.
    public var seconds: Double?
    /// The server's exit status (`ServerExit`), its name and one sentence with the next step.
    public var status: Int32
    public var name: String
    public var message: String
    /// BACKUP: the client's result record as received (archive, stats, steps, warnings).
    public var record: ClientReport?
    /// BACKUP: notices of the config and the run (unknown keys, a dead socket removed).
    public var notices: [String]?
    /// COMPACT, CHECK: borg's exit code, when borg ran and exited.
    public var borgRC: Int32?
    /// Bytes of the regular files below REPO_DIR before (COMPACT, CHECK) and after the run
    /// (every mode): the repository's size on disk.
    public var bytesBefore: Int64?
    public var bytesAfter: Int64?
    /// CHECK: borg's lines that locate the damage.
    public var damage: [String]?
    /// CHECK with CHECK_MAX_DURATION: only a slice was checked.
    public var partial: Bool?

    enum CodingKeys: String, CodingKey {
        case version, mode, client, target, repository, started, finished, seconds, status, name, message
        case record, notices, damage, partial
        case borgRC = "borg_rc", bytesBefore = "bytes_before", bytesAfter = "bytes_after"
    }

    public init(
        mode: String, client: String? = nil, target: String? = nil, repository: String? = nil,
        started: String? = nil, finished: String? = nil, seconds: Double? = nil,
        status: Int32, name: String, message: String, record: ClientReport? = nil, notices: [String]? = nil,
        borgRC: Int32? = nil, bytesBefore: Int64? = nil, bytesAfter: Int64? = nil,
        damage: [String]? = nil, partial: Bool? = nil
    ) {
        self.mode = mode
        self.client = client
        self.target = target
        self.repository = repository
        self.started = started
        self.finished = finished
        self.seconds = seconds
        self.status = status
        self.name = name
        self.message = message
        self.record = record
        self.notices = notices
        self.borgRC = borgRC
        self.bytesBefore = bytesBefore
        self.bytesAfter = bytesAfter
        self.damage = damage
        self.partial = partial
    }

    /// The record of a COMPACT or CHECK that ran borg (times in seconds since 1970).
    public init(
        mode: String, client: String, repository: String, started: String, finished: String, verdict: MaintenanceVerdict,
        borgRC: Int32?, bytesBefore: Int64?, bytesAfter: Int64?, partial: Bool, seconds: Double? = nil
    ) {
        self.init(
            mode: mode, client: client, repository: repository, started: started, finished: finished, seconds: seconds,
            status: verdict.exit.rawValue, name: verdict.exit.name, message: verdict.message, borgRC: borgRC,
            bytesBefore: bytesBefore, bytesAfter: bytesAfter, damage: verdict.damage, partial: partial)
    }

    /// The record of a BACKUP: the server's outcome and the client's record inside it.
    /// - Parameters: `config` nil when the config could not be read; `started`/`finished` in
    ///   seconds since 1970; `repositoryBytes` the size of REPO_DIR after the run.
    public static func backup(
        config c: ServerConfig?, outcome: ServerOutcome, started: Double, finished: Double,
        notices: [String], repositoryBytes: Int64?
    ) -> RunRecord {
        RunRecord(
            mode: ServerMode.backup.rawValue, client: c?.repoName,
            target: c.map { "\($0.remoteUser)@\($0.remoteHost):\($0.sshPort)" }, repository: c?.repoDir,
            started: timestamp(started), finished: timestamp(finished), seconds: max(0, finished - started),
            status: outcome.exit.rawValue, name: outcome.exit.name, message: outcome.message,
            record: outcome.report, notices: notices, bytesAfter: repositoryBytes)
    }

    /// The record of a COMPACT or CHECK that ended before borg ran (lock held, bad repository).
    public static func maintenance(
        config c: ServerConfig?, mode: ServerMode, verdict: MaintenanceVerdict,
        started: Double, finished: Double
    ) -> RunRecord {
        RunRecord(
            mode: mode.rawValue, client: c?.repoName, repository: c?.repoDir, started: timestamp(started),
            finished: timestamp(finished), seconds: max(0, finished - started), status: verdict.exit.rawValue,
            name: verdict.exit.name, message: verdict.message, damage: verdict.damage)
    }

    /// Whether the run did its work: ok, or ok with warnings (borg rc 1: the archive exists).
    public var succeeded: Bool { status == ServerExit.ok.rawValue || status == ServerExit.warning.rawValue }

    /// `finished` (else `started`) in seconds since 1970; nil when absent or unreadable.
    public var finishedSeconds: Double? { RunRecord.seconds(finished ?? started) }

    /// Seconds since 1970 of an ISO 8601 time as `timestamp` writes it; nil otherwise.
    public static func seconds(_ iso: String?) -> Double? {
        guard let iso, let d = try? Date(iso, strategy: .iso8601) else { return nil }
        return d.timeIntervalSince1970
    }

    /// ISO 8601 UTC time of `seconds` since 1970.
    public static func timestamp(_ secondsSince1970: Double) -> String {
        Date(timeIntervalSince1970: secondsSince1970).formatted(.iso8601)
    }

    /// Key-sorted JSON on one line (`pretty`: indented), newline-terminated, slashes unescaped.
    public func json(pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Decodes a record written by `json()` (or a version 1 `last-compact.json`); nil for
    /// anything else, including a record of a later schema version.
    public static func decode(_ text: String) -> RunRecord? {
        guard let r = try? JSONDecoder().decode(RunRecord.self, from: Data(text.utf8)), r.version == 1 else { return nil }
        return r
    }
}
