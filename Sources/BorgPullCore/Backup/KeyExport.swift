// `borgpull-client key-export FILE [--paper]` as pure decisions: borg's argv, a sanity check of
// what borg printed, the record of the last export (STATE_DIR/key-export.json) and the audit's
// `key.export` finding. BorgPullSystem's `BackupRunner.exportKey` performs it.
// Sources: borg 1.2/1.4 usage `borg key export` (without PATH the key goes to stdout; repokey
// keys live in the repository, so the server must be in SERVE), README "Key escrow".

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The record of the last key export: when, where to, which format, of which repository.
/// Holds no secret (the key itself is never copied into it).
public struct KeyExportRecord: Codable, Equatable, Sendable {
    public var version = 1
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    public var exported: String
    public var file: String
    /// `text` (borg's key file format, `borg key import REPO FILE`) or `paper`
    /// (`borg key import --paper`, typed in by hand).
    public var format: String
    /// BORG_REPO at the time of the export: a new repository has a new key.
    public var repository: String

    public init(exported: String, file: String, format: String, repository: String) {
        self.exported = exported
        self.file = file
        self.format = format
        self.repository = repository
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func parse(_ text: String) -> KeyExportRecord? {
        try? JSONDecoder().decode(KeyExportRecord.self, from: Data(text.utf8))
    }
}

public enum KeyExport {
    /// Where the record lives: root's STATE_DIR (0711), the file 0600.
    public static func recordPath(stateDirectory: String) -> String { "\(stateDirectory)/key-export.json" }

    /// `borg key export [--paper]`: no REPOSITORY (BORG_REPO) and no PATH, so borg prints the
    /// key on stdout and root, not borg, writes FILE.
    public static func arguments(borgBinary: String, paper: Bool) -> [String] {
        [borgBinary, "key", "export"] + (paper ? ["--paper"] : [])
    }

    /// What borg printed looks like a key: `BORG_KEY <hex>` first (text), or a
    /// `BORG PAPER KEY v1` block (paper); nothing else is written to FILE.
    public static func looksLikeKey(_ output: String, paper: Bool) -> Bool {
        paper ? output.contains("BORG PAPER KEY v1") : output.hasPrefix("BORG_KEY ")
    }

    /// The fix every `key.export` WARN gives.
    public static func fix(configDirectory: String, host: String) -> String {
        "with the server in SERVE: borgpull-client -c \(configDirectory) key-export /root/borg-key-\(host).txt, then keep that file and the passphrase off this machine, apart from each other (README, \"Key escrow\")"
    }

    /// The audit's `key.export` finding: OK with the time of the last export of this
    /// repository; WARN when none was recorded, the record is unreadable, or it is of another
    /// BORG_REPO.
    /// - Parameter recordText: the record file's text; nil when it does not exist.
    public static func finding(
        recordText: String?, recordPath: String, repository: String, configDirectory: String,
        host: String
    ) -> Finding {
        let fix = fix(configDirectory: configDirectory, host: host)
        let what = "the repository key was exported for escrow (without it and the passphrase an encrypted repository cannot be read once this client is gone)"
        guard let text = recordText else {
            return Finding(
                .warn, check: "key.export", what: "no key export was made on this client (borgpull-client key-export)",
                location: recordPath, expected: "a key export of \(repository)", actual: "none recorded", fix: fix)
        }
        guard let r = KeyExportRecord.parse(text) else {
            return Finding(
                .warn, check: "key.export", what: "the record of the last key export cannot be read",
                location: recordPath, expected: "a key-export record (JSON, version 1)", actual: "unreadable", fix: fix)
        }
        guard r.repository == repository else {
            return Finding(
                .warn, check: "key.export", what: "the last key export (\(r.exported)) was of another repository",
                location: recordPath, expected: repository, actual: r.repository, fix: fix)
        }
        return Finding(
            .ok, check: "key.export", what: what, location: recordPath, expected: "a key export of \(repository)",
            actual: "\(r.format) export to \(r.file) at \(r.exported)")
    }
}
