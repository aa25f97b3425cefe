// The per-client run history: one `RunRecord` per line (JSON Lines) in
// `STATE_DIR/history.jsonl`, the previous generation in `history.jsonl.1`. Pure: parsing,
// what a client's last runs were, and when to rotate.

/// A client's history, oldest record first, and the lines that were not records.
public struct RunHistory: Equatable, Sendable {
    public var records: [RunRecord]
    /// One message per line that was skipped (`FILE:LINE: ...`): truncated by a crash, damaged
    /// or of a later schema version. Never fatal.
    public var skipped: [String]

    public init(records: [RunRecord] = [], skipped: [String] = []) {
        self.records = records
        self.skipped = skipped
    }

    /// File names below STATE_DIR.
    public static let fileName = "history.jsonl"
    public static let previousFileName = "history.jsonl.1"

    /// Rotation bound, in bytes: before a line is appended to a file of at least this size, the
    /// file becomes `history.jsonl.1` (replacing the one before). 1 MiB holds 500 to 2,000
    /// records, more than a year of daily backups; both files together stay below 2 MiB plus
    /// one line.
    public static let rotateBytes = 1 << 20

    /// Whether a file of `size` bytes is rotated before one more line is appended.
    public static func needsRotation(size: Int) -> Bool { size >= rotateBytes }

    /// Parses the text of history files, oldest first (`files`: name and text). A first line
    /// that starts in the middle (a file read from an offset) is passed with `partialFirst`.
    public static func parse(_ files: [(name: String, text: String, partialFirst: Bool)]) -> RunHistory {
        var h = RunHistory()
        for f in files {
            var number = 0
            for raw in f.text.split(separator: "\n", omittingEmptySubsequences: false) {
                number += 1
                if number == 1 && f.partialFirst { continue }
                let line = raw.trimmingBlanks()
                if line.isEmpty { continue }
                if let r = RunRecord.decode(line) {
                    h.records.append(r)
                } else {
                    h.skipped.append("\(f.name):\(number): not a run record of schema version 1 (truncated, damaged or newer); skipped")
                }
            }
        }
        return h
    }

    /// The last record of `mode` (any outcome).
    public func last(_ mode: ServerMode) -> RunRecord? {
        records.last { $0.mode == mode.rawValue }
    }

    /// The last record of `mode` that succeeded (ok or ok-with-warnings).
    public func lastSuccess(_ mode: ServerMode) -> RunRecord? {
        records.last { $0.mode == mode.rawValue && $0.succeeded }
    }

    /// The repository's size on disk from the newest record that measured it.
    public var repositoryBytes: Int64? {
        records.last { $0.bytesAfter != nil }?.bytesAfter
    }
}
