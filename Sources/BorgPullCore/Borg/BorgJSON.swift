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
