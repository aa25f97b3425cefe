import XCTest

@testable import BorgPullCore

final class PassthroughRulesTests: XCTestCase {
    func decide(_ args: [String], cwd: String = "/srv/here") -> PassthroughRules.Decision {
        PassthroughRules.decide(args, workingDirectory: cwd, configDirectory: "/etc/borgpull")
    }

    func fix(_ args: [String], cwd: String = "/srv/here") -> String? {
        if case .refuse(_, let fix) = decide(args, cwd: cwd) { return fix }
        return nil
    }

    func testReadOnlyCommandsAndInitRun() {
        for args in [
            ["list", "--short"], ["info", "::a"], ["check"], ["diff", "::a", "b"], ["init", "--encryption=repokey-blake2"],
            ["--version"], [], ["extract", "--stdout", "::a", "etc/hosts"], ["--lock-wait", "5", "list"], ["list", "::extract"]
        ] {
            XCTAssertEqual(decide(args), .run(writesWorkingDirectory: false), "\(args)")
        }
        XCTAssertEqual(decide(["export-tar", "::a", "out.tar"]), .run(writesWorkingDirectory: true))
    }

    func testExtractIsRefusedWithTheEquivalentRestore() {
        XCTAssertEqual(
            fix(["extract", "::web-2026-01-01T00:00:00", "etc/hosts", "home/a b"]),
            "borgpull-client -c /etc/borgpull restore --archive web-2026-01-01T00:00:00 --to /srv/here etc/hosts 'home/a b'")
        XCTAssertEqual(
            fix(["--lock-wait", "5", "extract", "-n", "--list", "ssh://x/r::a", "--", "-odd"]),
            "borgpull-client -c /etc/borgpull restore --archive a --to /srv/here --dry-run -odd")
        let dropped = fix(["extract", "--strip-components", "2", "::a"], cwd: "/") ?? ""
        XCTAssertTrue(dropped.hasPrefix("borgpull-client -c /etc/borgpull restore --archive a --to DIR (not carried over: --strip-components 2;"), dropped)
    }

    func testKeyExportAndUnsandboxedAreRefused() {
        XCTAssertEqual(fix(["key", "export", "--paper", "::", "k.txt"]), "borgpull-client -c /etc/borgpull key-export --paper /srv/here/k.txt")
        XCTAssertEqual(fix(["key", "export"]), "borgpull-client -c /etc/borgpull key-export FILE")
        XCTAssertEqual(decide(["key", "import", "::", "k"]), .run(writesWorkingDirectory: false))
        guard case .refuse(let problem, _) = decide(["--unsandboxed", "--", "list"]) else { return XCTFail("ran --unsandboxed") }
        XCTAssertTrue(problem.contains("--unsandboxed was removed"))
    }

    /// borg's argparse takes `--debug-top` as `--debug-topic` (allow_abbrev), so the next word is
    /// its value and the command is the word after it: borg 1.2.4 runs
    /// `borg --debug-top export-tar extract ::a` as extract.
    func testAbbreviatedOptionValueIsNotTheCommand() {
        guard case .refuse = decide(["--debug-top", "export-tar", "extract", "::a"]) else {
            return XCTFail("ran extract with the current directory writable")
        }
        XCTAssertEqual(decide(["--remote-p", "export-tar", "with-lock", "::", "sh"]), .run(writesWorkingDirectory: false))
        guard case .refuse = decide(["--rs", "list", "key", "export", "::", "k"]) else { return XCTFail("ran key export") }
        // Exact options without a value and abbreviations of them take no word.
        guard case .refuse = decide(["--debug", "extract", "::a"]) else { return XCTFail("--debug took extract as its value") }
        guard case .refuse = decide(["--inf", "extract", "::a"]) else { return XCTFail("--inf took extract as its value") }
        XCTAssertEqual(decide(["--debug-topic=x", "export-tar", "::a", "o.tar"]), .run(writesWorkingDirectory: true))
    }

    func testKeyExportFinding() {
        func f(_ text: String?) -> Finding {
            KeyExport.finding(
                recordText: text, recordPath: "/var/lib/borgpull/key-export.json", repository: "ssh://b/srv/borg/web",
                configDirectory: "/etc/borgpull", host: "web")
        }
        let none = f(nil)
        XCTAssertEqual(none.severity, .warn)
        XCTAssertTrue(none.fix.hasPrefix("with the server in SERVE: borgpull-client -c /etc/borgpull key-export /root/borg-key-web.txt"), none.fix)
        XCTAssertEqual(f("not json").severity, .warn)
        let rec = KeyExportRecord(exported: "2026-01-01T00:00:00Z", file: "/root/k", format: "paper", repository: "ssh://b/srv/borg/web")
        XCTAssertEqual(KeyExportRecord.parse(rec.json()), rec)
        XCTAssertEqual(f(rec.json()).severity, .ok)
        XCTAssertEqual(f(rec.json()).actual, "paper export to /root/k at 2026-01-01T00:00:00Z")
        var other = rec
        other.repository = "ssh://b/srv/borg/old"
        XCTAssertEqual(f(other.json()).severity, .warn)
        XCTAssertTrue(KeyExport.looksLikeKey("BORG_KEY 8d26\nhqlh\n", paper: false))
        XCTAssertFalse(KeyExport.looksLikeKey("garbage", paper: false))
        XCTAssertTrue(KeyExport.looksLikeKey("To restore key use borg key import --paper /path/to/repo\n\nBORG PAPER KEY v1\n", paper: true))
        XCTAssertEqual(KeyExport.arguments(borgBinary: "/usr/bin/borg", paper: true), ["/usr/bin/borg", "key", "export", "--paper"])
    }
}
