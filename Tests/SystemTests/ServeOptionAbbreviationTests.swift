import Foundation
import XCTest

@testable import BorgPullCore

/// What real borg does with abbreviated `borg serve` options, next to what
/// `ServerConfig.managedServeOption` refuses. Needs borg; no root, no network.
final class ServeOptionAbbreviationTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        try Prerequisites.requireTools(["borg"])
        dir = "/var/tmp/bp-serveopt-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if !dir.isEmpty { try? FileManager.default.removeItem(atPath: dir) }
    }

    var environment: [String: String] {
        [
            "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": dir, "BORG_BASE_DIR": dir + "/base",
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"
        ]
    }

    func refused(_ word: String) -> Bool {
        (try? ServerConfig.parse("REMOTE_HOST=h\nREPO_NAME=n\nREPO_DIR=/srv/n\nBORG_SERVE_OPTIONS='\(word)'\n", file: "f.conf")) == nil
    }

    /// borg serve's long options, from its own usage text.
    func serveOptions() -> [String] {
        let help = Shell.run(["/usr/bin/borg", "serve", "--help"], env: environment).stdout
        let usage = help.split(separator: "\n\n").first.map(String.init) ?? help
        return Array(Set(usage.matches(of: /--[a-z][a-z-]*/).map { String($0.output) })).sorted()
    }

    /// Every prefix borg's argparse expands to a managed option (it is the only option with that
    /// prefix, or the exact name) is refused; real borg confirms the expansion for the shortest
    /// such prefix and for a middle one (its error names the full option).
    func testEveryAbbreviationBorgExpandsToAManagedOptionIsRefused() throws {
        let all = serveOptions()
        XCTAssertTrue(all.contains("--restrict-to-repository") && all.contains("--storage-quota"), "usage not parsed: \(all)")
        for (managed, _) in ServerConfig.managedServeOptions {
            XCTAssertTrue(all.contains(managed), "borg serve has no \(managed) (borg version changed?)")
            let expanding = (3...managed.count).map { String(managed.prefix($0)) }
                .filter { p in all.filter { $0.hasPrefix(p) } == [managed] }
            XCTAssertFalse(expanding.isEmpty, managed)
            for p in expanding { XCTAssertTrue(refused(p) && refused(p + "=/x"), "`\(p)` is expanded by borg to \(managed) but accepted") }
            for p in Set([expanding[0], expanding[expanding.count / 2]]) {
                // A flag given a value, an option given none: argparse names the option it chose.
                let probe = managed == "--append-only" ? p + "=1" : p
                let r = Shell.run(["/usr/bin/borg", "serve", probe], env: environment)
                XCTAssertEqual(r.status, 2, r.stderr)
                XCTAssertTrue(r.stderr.contains("argument \(managed):"), "borg did not read `\(probe)` as \(managed): \(r.stderr)")
            }
        }
    }

    /// The widening itself: a borg serve restricted to repository A, plus
    /// `--restrict-to-repo=B`, lets a client open B.
    func testAbbreviatedRestrictOptionReallyOpensASecondRepository() throws {
        for r in ["a", "b"] {
            let i = Shell.run(["/usr/bin/borg", "init", "--encryption=none", "\(dir)/\(r)"], env: environment)
            XCTAssertEqual(i.status, 0, i.stderr)
        }
        // borg runs BORG_RSH with host and remote command appended; the script ignores them.
        let rsh = "\(dir)/rsh"
        FileManager.default.createFile(
            atPath: rsh,
            contents: Data(
                """
                #!/bin/sh
                exec /usr/bin/borg serve --restrict-to-repository \(dir)/a $BPT_EXTRA
                """.utf8))
        chmod(rsh, 0o755)
        func info(_ repo: String, extra: String) -> Shell.Output {
            var env = environment
            env["BORG_RSH"] = rsh
            env["BPT_EXTRA"] = extra
            return Shell.run(["/usr/bin/borg", "info", "ssh://backup-server\(dir)/\(repo)"], env: env)
        }
        XCTAssertEqual(info("a", extra: "").status, 0, "the restricted repository itself must open")
        let plain = info("b", extra: "")
        XCTAssertNotEqual(plain.status, 0, "borg serve --restrict-to-repository a opened b")
        let widened = info("b", extra: "--restrict-to-repo=\(dir)/b")
        XCTAssertEqual(widened.status, 0, "borg did not expand --restrict-to-repo: \(widened.stderr)")
        XCTAssertTrue(refused("--restrict-to-repo=\(dir)/b"), "BORG_SERVE_OPTIONS accepts what widens borg serve")
    }
}
