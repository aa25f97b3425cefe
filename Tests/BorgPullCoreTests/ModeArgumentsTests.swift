import BorgPullCore
import XCTest

/// The original's `-c DIR BACKUP` order reaches the subcommand; `help MODE` stays help.
final class ModeArgumentsTests: XCTestCase {
    let modes: Set<String> = ["setup", "backup", "borg", "restore", "relay", "trigger"]

    func testOnlyTheFirstWordMayBeTheMode() {
        XCTAssertEqual(
            ModeArguments.normalize(["-c", "/etc/borgpull", "BACKUP"], modes: modes, optionsWithValue: ["-c"]),
            ["backup", "-c", "/etc/borgpull"])
        XCTAssertEqual(ModeArguments.normalize(["borg", "list", "::"], modes: modes, optionsWithValue: ["-c"]), ["borg", "list", "::"])
        // A later word naming a mode is an argument, never the mode.
        XCTAssertEqual(ModeArguments.normalize(["help", "restore"], modes: modes, optionsWithValue: ["-c"]), ["help", "restore"])
        XCTAssertEqual(ModeArguments.normalize(["-c", "backup", "setup"], modes: modes, optionsWithValue: ["-c"]), ["setup", "-c", "backup"])
    }
}

/// borgpull-server's spellings (its main.swift's modes and options with a value) reach its
/// lowercase subcommands.
final class ServerModeArgumentsTests: XCTestCase {
    let modes = Set(ServerMode.allCases.map { $0.rawValue.lowercased() })
    let withValue: Set<String> = ["-c", "--config", "--defaults", "--config-dir", "--max-age"]

    func normalize(_ args: [String]) -> [String] { ModeArguments.normalize(args, modes: modes, optionsWithValue: withValue) }

    func testTheOriginalOrderAndCaseReachTheSubcommand() {
        XCTAssertEqual(modes, ["backup", "serve", "compact", "check", "status", "notify"])
        XCTAssertEqual(normalize(["-c", "/etc/borgpull-server/a.conf", "BACKUP"]), ["backup", "-c", "/etc/borgpull-server/a.conf"])
        XCTAssertEqual(normalize(["--config", "f", "BACKUP", "--json"]), ["backup", "--config", "f", "--json"])
        XCTAssertEqual(normalize(["-c", "f", "--json", "Check"]), ["check", "-c", "f", "--json"])
        XCTAssertEqual(normalize(["--defaults", "d", "-c", "f", "NOTIFY"]), ["notify", "--defaults", "d", "-c", "f"])
        XCTAssertEqual(normalize(["BACKUP", "-c", "f"]), ["backup", "-c", "f"])
        XCTAssertEqual(normalize(["STATUS", "-c", "a", "-c", "b"]), ["status", "-c", "a", "-c", "b"])
        XCTAssertEqual(normalize(["--max-age", "3d", "--config-dir", "status", "STATUS"]), ["status", "--max-age", "3d", "--config-dir", "status"])
        XCTAssertEqual(normalize(["SERVE"]), ["serve"])
        // No mode word: left alone (the root's own usage error or --help).
        XCTAssertEqual(normalize(["--help"]), ["--help"])
        XCTAssertEqual(normalize(["FOO", "BACKUP"]), ["FOO", "BACKUP"])
        XCTAssertEqual(normalize(["init"]), ["init"])
    }
}
