import XCTest

/// `help MODE` stays help (the mode rule itself: BorgPullCoreTests.ModeArgumentsTests).
final class ModeArgumentsTests: XCTestCase {
    func testHelpOfAModeShowsItsHelpAndRunsNothing() throws {
        for mode in ["restore", "backup", "setup"] {
            let r = Shell.run([Shell.product("borgpull-client"), "help", mode], env: ["PATH": "/usr/bin:/bin"])
            XCTAssertEqual(r.status, 0, "\(mode): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE: borgpull-client \(mode)"), "\(mode): \(r.stdout)")
        }
    }
}

/// borgpull-server's modes are subcommands, reached in the original's order and case too
/// (`-c FILE BACKUP`); each has only its own options.
final class ServerModeArgumentsTests: XCTestCase {
    func server(_ args: [String]) -> Shell.Output {
        Shell.run([Shell.product("borgpull-server")] + args, env: ["PATH": "/usr/bin:/bin"])
    }

    func testHelpListsTheModesAndEachModeHasItsOwnOptions() {
        let help = server(["--help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        for mode in ["backup", "serve", "compact", "check", "status", "notify"] {
            XCTAssertTrue(help.stdout.contains("  \(mode) "), "\(mode): \(help.stdout)")
        }
        let status = server(["status", "--help"])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("USAGE: borgpull-server status"), status.stdout)
        XCTAssertTrue(status.stdout.contains("--max-age"), status.stdout)
        XCTAssertFalse(status.stdout.contains("--defaults"), status.stdout)
        let serve = server(["SERVE", "--help"])
        XCTAssertTrue(serve.stdout.contains("USAGE: borgpull-server serve"), serve.stdout)
        XCTAssertFalse(serve.stdout.contains("--json"), serve.stdout)
    }

    func testEverySpellingReachesTheConfigLoader() {
        for args in [
            ["-c", "/nonexistent", "BACKUP"], ["BACKUP", "-c", "/nonexistent"], ["backup", "--config", "/nonexistent"],
            ["--config", "/nonexistent", "Backup", "--json"]
        ] {
            let r = server(args)
            XCTAssertEqual(r.status, 4, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("config-error (exit 4): /nonexistent: cannot read the server config"), "\(args): \(r.stderr)")
        }
        let env = Shell.run([Shell.product("borgpull-server"), "SERVE"], env: ["PATH": "/usr/bin:/bin", "BORGPULL_CONFIG": "/nonexistent"])
        XCTAssertEqual(env.status, 4, env.stderr)
        XCTAssertTrue(env.stderr.contains("/nonexistent: cannot read the server config"), env.stderr)
    }

    func testStatusAndUsageErrors() {
        XCTAssertEqual(server(["STATUS", "--json", "--config-dir", "/nonexistent"]).status, 2)
        XCTAssertEqual(server(["status", "--config-dir", "/nonexistent"]).status, 2)
        let bogus = server(["STATUS", "--bogus"])
        XCTAssertEqual(bogus.status, 64, bogus.stderr)
        XCTAssertTrue(bogus.stderr.contains("Unknown option '--bogus'"), bogus.stderr)
        let two = server(["-c", "/a", "-c", "/b", "BACKUP"])
        XCTAssertEqual(two.status, 64, two.stderr)
        XCTAssertTrue(two.stderr.contains("BACKUP takes one config file (-c FILE); several are for STATUS"), two.stderr)
        let none = server(["BACKUP"])
        XCTAssertEqual(none.status, 64, none.stderr)
        XCTAssertTrue(none.stderr.contains("no config file: pass -c FILE or set BORGPULL_CONFIG=FILE"), none.stderr)
        XCTAssertEqual(server(["STATUS", "--max-age", "3x"]).status, 64)
        XCTAssertEqual(server([]).status, 64)
        XCTAssertEqual(server(["FOO"]).status, 64)
    }
}
