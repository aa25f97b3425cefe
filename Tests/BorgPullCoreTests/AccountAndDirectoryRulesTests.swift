import XCTest

@testable import BorgPullCore

/// The audit's account and directory rules on fake facts (the root system tests,
/// CheckSystemTests, run them on the real machine).
final class AccountAndDirectoryRulesTests: XCTestCase {
    func testSshUserAndRunnerAreUnprivilegedAndDistinct() {
        XCTAssertEqual(AccountRules.sshUser(AccountFacts(name: "borgpull", uid: 990), name: "borgpull").severity, .ok)
        let root = AccountRules.sshUser(AccountFacts(name: "root", uid: 0), name: "root")
        XCTAssertEqual([root.severity.rawValue, root.actual], [Finding.Severity.fail.rawValue, "uid 0"])
        let missing = AccountRules.sshUser(nil, name: "bp")
        XCTAssertEqual(missing.severity, .fail)
        XCTAssertTrue(missing.fix.contains("useradd -r -M -d /var/lib/bp-home"), missing.fix)

        let runner = AccountFacts(name: "borgpull-runner", uid: 991)
        XCTAssertEqual(AccountRules.runner(runner, name: runner.name, sshUser: "borgpull").severity, .ok)
        XCTAssertEqual(AccountRules.runner(AccountFacts(name: "toor", uid: 0), name: "toor", sshUser: "borgpull").severity, .fail)
        XCTAssertEqual(
            AccountRules.runner(AccountFacts(name: "borgpull", uid: 990), name: "borgpull", sshUser: "borgpull").severity, .fail,
            "the runner must not be the ssh user")
        XCTAssertEqual(AccountRules.runner(nil, name: "nobody-here", sshUser: "borgpull").actual, "missing")
    }

    func testServerUserWarnsForRoot() {
        XCTAssertEqual(AccountRules.serverUser(AccountFacts(name: "borg", uid: 120), name: "borg", configFile: "/c").map(\.severity), [.ok])
        XCTAssertEqual(AccountRules.serverUser(AccountFacts(name: "root", uid: 0), name: "root", configFile: "/c").map(\.severity), [.ok, .warn])
        XCTAssertEqual(AccountRules.serverUser(nil, name: "borg", configFile: "/c").map(\.severity), [.fail])
    }

    func testRepositoryBelongsToLocalUserAndIsPrivate() {
        func repo(_ kind: FileFacts.Kind = .directory, uid: UInt32 = 120, mode: UInt32) -> [Finding] {
            DirectoryRules.repository(
                FileFacts(path: "/srv/r", kind: kind, uid: uid, gid: 120, mode: mode), path: "/srv/r",
                localName: "borg", localUID: 120, configFile: "/c")
        }
        XCTAssertEqual(repo(mode: 0o700).map(\.severity), [.ok])
        XCTAssertEqual(repo(mode: 0o705).map(\.severity), [.warn], "other may read")
        XCTAssertEqual(repo(mode: 0o770).map(\.severity), [.fail], "group may write")
        XCTAssertEqual(repo(uid: 0, mode: 0o700).map(\.actual), ["owner uid 0"])
        XCTAssertEqual(repo(.regular, mode: 0o600).map(\.actual), ["not a directory"])
        let absent = DirectoryRules.repository(nil, path: "/srv/r", localName: "borg", localUID: 120, configFile: "/c")
        XCTAssertEqual(absent.map(\.severity), [.warn])
    }

    func testRunDirectoryIsLocalUsersAndNotWritableByOthers() {
        func run(_ kind: FileFacts.Kind = .directory, uid: UInt32 = 120, mode: UInt32) -> Finding {
            DirectoryRules.runDirectory(
                FileFacts(path: "/run/borg", kind: kind, uid: uid, gid: 120, mode: mode), path: "/run/borg",
                localName: "borg", localUID: 120)
        }
        XCTAssertEqual(run(mode: 0o750).severity, .ok)
        XCTAssertEqual(run(mode: 0o770).severity, .fail)
        XCTAssertEqual(run(uid: 0, mode: 0o755).severity, .fail)
        XCTAssertEqual(run(.symlink, mode: 0o777).severity, .fail)
        XCTAssertEqual(DirectoryRules.runDirectory(nil, path: "/run/borg", localName: "borg", localUID: 120).severity, .warn)
    }

    func testMissingPathsFailOrWarnPerMissingPaths() throws {
        func config(_ extra: String) throws -> ClientConfig {
            try ClientConfig.build(
                ClientConfigInput(
                    directory: "/etc/borgpull",
                    texts: [
                        .env: "BORG_REPO=ssh://b/srv/repo\nBACKUP_SOCKET=/run/borg/c.socket\n" + extra, .paths: "/etc\n/gone\n"
                    ], hookExecutable: [:]))
        }
        let onlyEtc = { (p: String) in p == "/etc" }
        let strict = DirectoryRules.paths(try config(""), exists: onlyEtc)
        XCTAssertEqual(strict.map(\.severity), [.fail])
        XCTAssertEqual(strict.first?.location, "/etc/borgpull/borg_paths:2")
        XCTAssertEqual(DirectoryRules.paths(try config("MISSING_PATHS=warn\n"), exists: onlyEtc).map(\.severity), [.warn])
        XCTAssertEqual(DirectoryRules.paths(try config(""), exists: { _ in true }).map(\.severity), [.ok])
    }
}
