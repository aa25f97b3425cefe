// `borgpull-server STATUS`: one row per client from its run history. Pure: the judgement
// (ok, stale, failed, never), the exit status, the table and the JSON.

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a client needs, judged from its history.
public enum ClientState: String, Codable, Sendable {
    /// The last BACKUP succeeded (ok or with warnings) within the maximum age.
    case ok
    /// The last BACKUP succeeded, but longer ago than the maximum age (the timer is off, the
    /// server was down, runs fail before they are recorded).
    case stale
    /// The last BACKUP did not succeed.
    case failed
    /// No BACKUP is recorded for this client.
    case never
    /// Its config could not be read, or its history not opened.
    case error

    /// Everything but `ok` needs a person.
    public var needsAttention: Bool { self != .ok }
}

/// One client's row of STATUS.
public struct ClientStatus: Equatable, Sendable {
    /// REPO_NAME (the config file's name when the config could not be read).
    public var client: String
    /// The server config file.
    public var config: String
    public var state: ClientState
    /// The maximum age of the last successful BACKUP, in seconds.
    public var maxAgeSeconds: Int
    public var lastBackup: RunRecord?
    public var lastSuccess: RunRecord?
    public var lastCompact: RunRecord?
    public var lastCheck: RunRecord?
    /// REPO_DIR's size on disk from the newest record that measured it.
    public var repositoryBytes: Int64?
    /// Seconds since the last successful BACKUP finished.
    public var ageSeconds: Double?
    /// History lines that were skipped.
    public var skippedLines: Int
    /// `state == .error`: what is wrong and the fix.
    public var error: String?

    /// The row of a client whose config and history could be read.
    /// - Parameters: `maxAgeSeconds` from `--max-age` or the config's MAX_BACKUP_AGE; `now`
    ///   seconds since 1970; `compact`/`check` the `last-*.json` records, used when the history
    ///   has none (records written before the history existed).
    public static func judge(
        client: String, config: String, history: RunHistory, maxAgeSeconds: Int, now: Double,
        compact: RunRecord? = nil, check: RunRecord? = nil
    ) -> ClientStatus {
        let lastBackup = history.last(.backup)
        let lastSuccess = history.lastSuccess(.backup)
        let age = lastSuccess?.finishedSeconds.map { max(0, now - $0) }
        let state: ClientState
        if lastBackup == nil {
            state = .never
        } else if lastBackup?.succeeded != true {
            state = .failed
        } else if let age, age <= Double(maxAgeSeconds) {
            state = .ok
        } else {
            state = .stale
        }
        return ClientStatus(
            client: client, config: config, state: state, maxAgeSeconds: maxAgeSeconds,
            lastBackup: lastBackup, lastSuccess: lastSuccess,
            lastCompact: history.last(.compact) ?? compact, lastCheck: history.last(.check) ?? check,
            repositoryBytes: history.repositoryBytes ?? compact?.bytesAfter ?? check?.bytesAfter,
            ageSeconds: age, skippedLines: history.skipped.count, error: nil)
    }

    /// The row of a client whose config or history could not be read.
    public static func failure(client: String, config: String, message: String, maxAgeSeconds: Int) -> ClientStatus {
        ClientStatus(client: client, config: config, state: .error, maxAgeSeconds: maxAgeSeconds, skippedLines: 0, error: message)
    }

    /// One sentence for a row that needs attention: what is wrong and the next step.
    public var attention: String? {
        let unit = "borgpull-server@\(ClientStatus.instance(config)).service"
        switch state {
        case .ok:
            return nil
        case .error:
            return error
        case .never:
            return
                "no BACKUP recorded (fix: systemctl enable --now borgpull-server@\(ClientStatus.instance(config)).timer; run one with systemctl start \(unit))"
        case .failed:
            let r = lastBackup
            return "last BACKUP \(r?.name ?? "failed") (exit \(r?.status ?? 0)) at \(r?.finished ?? "?"): \(r?.message ?? "") (journalctl -u \(unit))"
        case .stale:
            let ago = ageSeconds.map(DurationText.format) ?? "?"
            return
                "last successful BACKUP \(ago) ago, more than \(DurationText.format(Double(maxAgeSeconds))) (fix: systemctl list-timers 'borgpull-server@*'; journalctl -u \(unit))"
        }
    }

    /// The systemd instance name of a config file: its name without `.conf`.
    public static func instance(_ configFile: String) -> String {
        let name = configFile.split(separator: "/").last.map(String.init) ?? configFile
        return name.hasSuffix(".conf") ? String(name.dropLast(5)) : name
    }
}

/// The whole STATUS: rows, exit status, table, JSON.
public struct FleetStatus: Sendable {
    public var clients: [ClientStatus]
    /// Seconds since 1970 when it was taken.
    public var now: Double

    public init(clients: [ClientStatus], now: Double) {
        self.clients = clients
        self.now = now
    }

    /// 0: every client's last BACKUP succeeded within its maximum age; 1: a client is stale,
    /// failed or never ran; 2: a config (or history) could not be read.
    public var exitStatus: Int32 {
        if clients.contains(where: { $0.state == .error }) { return 2 }
        return clients.contains(where: { $0.state.needsAttention }) ? 1 : 0
    }

    /// The table for people: one row per client, at most `width` (100) columns; rows that need
    /// attention have their state in capitals (and red or yellow with `color`), and a line each
    /// below the table says why.
    public func table(width: Int = 100, color: Bool = false) -> String {
        let header = ["CLIENT", "STATE", "LAST OK", "AGE", "LAST RUN", "ORIG", "DEDUP", "TIME", "REPO", "COMP", "CHK", "ARCHIVE"]
        var rows: [[String]] = []
        for c in clients {
            let stats = c.lastSuccess?.record?.stats
            rows.append([
                c.client,
                c.state.needsAttention ? c.state.rawValue.uppercased() : c.state.rawValue,
                c.lastSuccess?.finishedSeconds.map(FleetStatus.shortTime) ?? "-",
                c.ageSeconds.map(DurationText.format) ?? "-",
                c.lastBackup?.name ?? "-",
                stats?.originalSize.map(FleetStatus.shortBytes) ?? "-",
                stats?.deduplicatedSize.map(FleetStatus.shortBytes) ?? "-",
                c.lastBackup?.seconds.map(DurationText.format) ?? "-",
                c.repositoryBytes.map(FleetStatus.shortBytes) ?? "-",
                maintenanceCell(c.lastCompact),
                maintenanceCell(c.lastCheck),
                c.lastSuccess?.record?.archive ?? "-"
            ])
        }
        // Client names and outcomes are cut to keep the row within `width`; the archive takes
        // what is left and keeps its end (the timestamp).
        let caps = [14, 6, 11, 5, 14, 5, 5, 5, 5, 5, 5, Int.max]
        var widths = header.indices.map { i in min(caps[i], max(header[i].count, rows.map { $0[i].count }.max() ?? 0)) }
        let fixed = widths.dropLast().reduce(0, +) + (widths.count - 1)
        widths[widths.count - 1] = max(header.last!.count, min(widths.last!, width - fixed))
        func line(_ cells: [String], _ state: ClientState?) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let w = widths[i]
                var text = cell.count > w ? (i == cells.count - 1 ? "…" + cell.suffix(w - 1) : cell.prefix(w - 1) + "…") : cell
                let pad = String(repeating: " ", count: max(0, w - text.count))
                if i == 1, color, let state, state.needsAttention {
                    text = (state == .stale || state == .never ? "\u{1B}[1;33m" : "\u{1B}[1;31m") + text + "\u{1B}[0m"
                }
                parts.append(i == cells.count - 1 ? text : text + pad)
            }
            return parts.joined(separator: " ")
        }
        var out = [line(header, nil)]
        for (c, r) in zip(clients, rows) { out.append(line(r, c.state)) }
        let attention = clients.compactMap { c in c.attention.map { FleetStatus.wrap("  \(c.client): \(c.state.rawValue): \($0)", width: width) } }
        if !attention.isEmpty {
            out.append("")
            out.append("Needs attention:")
            out += attention
        }
        let counts = Dictionary(grouping: clients, by: \.state).mapValues(\.count)
        out.append("")
        out.append(
            "\(clients.count) client(s): "
                + [ClientState.ok, .stale, .failed, .never, .error].map { "\(counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", "))
        return out.joined(separator: "\n") + "\n"
    }

    /// `text` broken at blanks into lines of at most `width` columns, continued with 6 blanks
    /// (a word longer than a line stays whole).
    static func wrap(_ text: String, width: Int) -> String {
        var lines: [String] = []
        let indent = String(text.prefix { $0 == " " })
        var current = indent
        for word in text.dropFirst(indent.count).split(separator: " ") {
            let candidate = current == indent ? current + word : current + " " + word
            if candidate.count > width && current != indent {
                lines.append(current)
                current = "      " + word
            } else {
                current = candidate
            }
        }
        lines.append(current)
        return lines.joined(separator: "\n")
    }

    func maintenanceCell(_ r: RunRecord?) -> String {
        guard let r else { return "-" }
        let age = r.finishedSeconds.map { DurationText.format(max(0, now - $0)) } ?? "?"
        return r.status == 0 ? age : age + "!"
    }

    /// `MM-DD HH:MM` in UTC.
    static func shortTime(_ seconds: Double) -> String {
        let iso = RunRecord.timestamp(seconds)  // 2026-12-01T03:00:00Z
        let chars = Array(iso)
        guard chars.count >= 16 else { return iso }
        return String(chars[5..<10]) + " " + String(chars[11..<16])
    }

    /// Bytes in at most 5 characters: `512B`, `9.5K`, `120M`, `1.2G`, `3.4T` (powers of 1024).
    static func shortBytes(_ n: Int64) -> String {
        let units = ["B", "K", "M", "G", "T", "P"]
        var v = Double(max(0, n))
        var i = 0
        while v >= 1000, i < units.count - 1 { v /= 1024; i += 1 }
        if i == 0 { return "\(Int(v))B" }
        return v < 10 ? "\((v * 10).rounded() / 10)\(units[i])" : "\(Int(v.rounded()))\(units[i])"
    }

    /// The `--json` document, schema `borgpull-status` version 1 (README, "STATUS --json").
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(StatusJSON(self)) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The shape of `STATUS --json`: see README, "STATUS --json schema (version 1)".
struct StatusJSON: Encodable {
    struct Summary: Encodable { var ok = 0, stale = 0, failed = 0, never = 0, error = 0, total = 0 }
    struct Run: Encodable {
        var status: Int32
        var name: String
        var message: String
        var finished: String?
        var seconds: Double?
        init(_ r: RunRecord) {
            status = r.status
            name = r.name
            message = r.message
            finished = r.finished
            seconds = r.seconds
        }
    }
    struct Client: Encodable {
        var client: String
        var config: String
        var state: String
        var attention: String?
        var maxAgeSeconds: Int
        var lastSuccess: String?
        var lastSuccessAgeSeconds: Double?
        var lastRun: Run?
        var archive: String?
        var originalBytes: Int64?
        var deduplicatedBytes: Int64?
        var durationSeconds: Double?
        var repositoryBytes: Int64?
        var lastCompact: Run?
        var lastCheck: Run?
        var skippedLines: Int
    }
    var schema = "borgpull-status"
    var version = 1
    var exitStatus: Int32
    var generated: String
    var summary: Summary
    var clients: [Client]

    init(_ s: FleetStatus) {
        exitStatus = s.exitStatus
        generated = RunRecord.timestamp(s.now)
        var sum = Summary()
        clients = s.clients.map { c in
            switch c.state {
            case .ok: sum.ok += 1
            case .stale: sum.stale += 1
            case .failed: sum.failed += 1
            case .never: sum.never += 1
            case .error: sum.error += 1
            }
            let stats = c.lastSuccess?.record?.stats
            return Client(
                client: c.client, config: c.config, state: c.state.rawValue, attention: c.attention,
                maxAgeSeconds: c.maxAgeSeconds, lastSuccess: c.lastSuccess?.finished,
                lastSuccessAgeSeconds: c.ageSeconds.map { $0.rounded() }, lastRun: c.lastBackup.map(Run.init),
                archive: c.lastSuccess?.record?.archive, originalBytes: stats?.originalSize,
                deduplicatedBytes: stats?.deduplicatedSize, durationSeconds: c.lastBackup?.seconds,
                repositoryBytes: c.repositoryBytes, lastCompact: c.lastCompact.map(Run.init),
                lastCheck: c.lastCheck.map(Run.init), skippedLines: c.skippedLines)
        }
        sum.total = s.clients.count
        summary = sum
    }
}
