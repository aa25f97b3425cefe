import Foundation
import XCTest

/// The syslog priority prefix of the real binaries: with JOURNAL_STREAM naming stderr (what
/// systemd sets for a unit whose stderr is the journal) every line starts with `<N>`; with
/// JOURNAL_STREAM naming another file (inherited by a child whose stderr is elsewhere), or
/// unset, the lines are plain. The journal itself is the chain test's part (journalctl -p err).
final class JournalStreamTests: XCTestCase {
    /// Runs PROGRAM ARGS with stderr on a fresh file; `stream` "self" sets JOURNAL_STREAM to
    /// that file's DEV:INODE, "other" to another file's, nil leaves it unset. Returns stderr.
    func stderrLines(_ program: String, _ args: [String], stream: String?) throws -> [String] {
        let dir = NSTemporaryDirectory() + "bp-journal-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let quoted = ([Shell.product(program)] + args).map { "'\($0)'" }.joined(separator: " ")
        let set: String
        switch stream {
        case "self": set = "JOURNAL_STREAM=$(stat -c '%d:%i' \(dir)/err) env"
        case "other": set = ": > \(dir)/other; JOURNAL_STREAM=$(stat -c '%d:%i' \(dir)/other) env"
        default: set = "env -u JOURNAL_STREAM"
        }
        let r = Shell.sh(": > \(dir)/err; \(set) \(quoted) 2>>\(dir)/err; cat \(dir)/err")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func testServerLinesCarryThePriorityOnlyWhenStderrIsTheStream() throws {
        let args = ["-c", "/nonexistent/borgpull-journal-test.conf", "BACKUP"]
        let journal = try stderrLines("borgpull-server", args, stream: "self")
        XCTAssertFalse(journal.isEmpty)
        XCTAssertTrue(journal.allSatisfy { $0.hasPrefix("<3>borgpull-server: config-error (exit 4): ") }, journal.joined(separator: "\n"))
        for stream in ["other", nil] {
            let plain = try stderrLines("borgpull-server", args, stream: stream)
            XCTAssertTrue(plain.first?.hasPrefix("borgpull-server: config-error (exit 4): ") ?? false, plain.joined(separator: "\n"))
            XCTAssertFalse(plain.contains { $0.hasPrefix("<") }, plain.joined(separator: "\n"))
        }
    }

    func testClientLogLinesCarryTheirLevelsPriority() throws {
        // A missing configuration directory: the audit's multi-line error, every line an error.
        let lines = try stderrLines("borgpull-client", ["-c", "/nonexistent/borgpull-journal-test", "BACKUP"], stream: "self")
        XCTAssertGreaterThan(lines.count, 1, lines.joined(separator: "\n"))
        XCTAssertTrue(lines[0].hasPrefix("<3>borgpull-client: error: the configuration audit failed"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("<3>") }, lines.joined(separator: "\n"))
        let plain = try stderrLines("borgpull-client", ["-c", "/nonexistent/borgpull-journal-test", "BACKUP"], stream: nil)
        XCTAssertTrue(plain.first?.hasPrefix("borgpull-client: error: the configuration audit failed") ?? false, plain.joined(separator: "\n"))
    }
}
