import Foundation
import XCTest

/// The borg sandbox at the level of BACKUP: the borg that BACKUP starts runs confined.
final class SandboxBackupTests: XCTestCase {
    /// `/proc/PID/status` lines of the `borg create` the BACKUP `client` runs.
    func statusOfRunningBorg(of client: pid_t) -> [String: String]? {
        guard let pid = ClientFixture.borgCreates(of: client).first, let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
            return nil
        }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    func testBorgStartedByBackupRunsAsRunnerWithOnlyDacReadSearchNoNewPrivsAndSeccomp() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        f.blockBorgCreate()
        let p = try f.startBackupInBackground(settle: 0)
        var status: [String: String]?
        for _ in 0..<150 where status == nil {
            usleep(100_000)
            status = statusOfRunningBorg(of: p.processIdentifier)
        }
        let s = try XCTUnwrap(status, "borg create did not start")
        let runner = String(Shell.uid(ClientFixture.runnerUser))
        for key in ["Uid", "Gid"] {
            let ids = (s[key] ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init)
            XCTAssertEqual(ids.count, 4, key)
            XCTAssertFalse(ids.contains("0"), "\(key): \(ids)")
        }
        XCTAssertEqual((s["Uid"] ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " }).first.map(String.init), runner)
        for key in ["CapEff", "CapPrm", "CapAmb", "CapBnd"] {
            XCTAssertEqual(s[key], "0000000000000004", "\(key) is exactly CAP_DAC_READ_SEARCH")
        }
        XCTAssertEqual(s["CapInh"], "0000000000000004")
        XCTAssertEqual(s["NoNewPrivs"], "1")
        XCTAssertEqual(s["Seccomp"], "2")
        let groups = (s["Groups"] ?? "").split(separator: " ").map(String.init)
        XCTAssertEqual(
            groups, [String(Shell.run(["id", "-g", ClientFixture.sshUser]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))],
            "supplementary groups are exactly the ssh user's group")
        p.terminate()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 5)
    }

    func testRootOwnedLeftoversInBorgsBaseDirAreGivenToTheRunner() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        // What an older version (borg as root) or a manual `borg` as root leaves behind.
        Shell.sh(
            "mkdir -p \(f.state)/borg/.cache/borg/leftover && touch \(f.state)/borg/.cache/borg/leftover/lock && chown -R root:root \(f.state)/borg/.cache")
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let owner = Shell.run(["stat", "-c", "%U", "\(f.state)/borg/.cache/borg/leftover/lock"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(owner, ClientFixture.runnerUser)
    }

    func testUnsafePolicyFileOrMissingRunnerRefusesBeforeThePreHook() throws {
        let f = try ClientFixture()
        try f.startServer()
        f.installHooks()
        let policy = "\(f.root)/borg.policy"
        for (setup, words) in [
            ("chmod 0664 \(policy)", "writable by group or other"),
            ("chown \(ClientFixture.otherUser) \(policy)", "owned by root")
        ] {
            Shell.sh("install -m 0644 \(ClientFixture.policy) \(policy); \(setup)")
            f.writeEnv("SECCOMP_POLICY=\(policy)\n")
            let r = f.client(["BACKUP"])
            XCTAssertEqual(r.status, 12, "\(setup): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(policy) && r.stderr.lowercased().contains(words), "\(setup): \(r.stderr)")
            XCTAssertFalse(f.ran("pre"), setup)
        }
        f.writeEnv("RUNNER_USER=bptest-nobody-here\n")
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 12, r.stderr)
        XCTAssertTrue(r.stderr.contains("bptest-nobody-here"), r.stderr)
        XCTAssertFalse(f.ran("pre"))
    }
}
