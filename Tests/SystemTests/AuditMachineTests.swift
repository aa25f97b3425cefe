import BorgPullCore
import BorgPullSystem
import XCTest

/// The client audit on a staged machine (`AuditMachine`): root-owned files, modes and uid-0
/// accounts without root or real files. CheckSystemTests audits the real machine as root.
final class AuditMachineTests: XCTestCase {
    struct FakeMachine: AuditMachine {
        var files: [String: FileFacts] = [:]
        var texts: [String: String] = [:]
        var users: [String: Account] = [:]
        func facts(_ path: String) -> FileFacts? { files[path] }
        func read(_ path: String, limit: Int) -> String? { files[path]?.kind == .regular ? texts[path] : nil }
        func list(_ dir: String) -> [String]? {
            files[dir]?.kind == .directory
                ? files.keys.filter { $0.hasPrefix(dir + "/") && !$0.dropFirst(dir.count + 1).contains("/") }
                    .map { String($0.dropFirst(dir.count + 1)) }.sorted() : nil
        }
        func user(_ name: String) -> Account? { users[name] }

        mutating func file(_ path: String, _ text: String? = nil, mode: UInt32 = 0o600, uid: UInt32 = 0) {
            files[path] = FileFacts(path: path, kind: text == nil ? .directory : .regular, uid: uid, gid: 0, mode: mode)
            texts[path] = text
        }
    }

    let dir = "/bpfake/borgpull"

    /// A client configuration that passes the checks these tests look at.
    func machine() -> FakeMachine {
        var m = FakeMachine()
        m.file("/bpfake", mode: 0o755)
        m.file(dir, mode: 0o700)
        m.file(
            "\(dir)/borg_env",
            """
            BORG_BACKUP_USER=bpfake-ssh
            RUNNER_USER=bpfake-runner
            BORG_REPO=ssh://backup-server/srv/repo
            BACKUP_SOCKET=/run/bpfake/c.socket
            BORG_PASSPHRASE=secret
            """)
        m.file("\(dir)/borg_paths", "/bpfake/data\n")
        m.file("/bpfake/data", mode: 0o755)
        m.users["bpfake-ssh"] = Account(name: "bpfake-ssh", uid: 990, gid: 990, home: "/var/lib/bpfake-home", shell: "/bin/bash")
        m.users["bpfake-runner"] = Account(name: "bpfake-runner", uid: 991, gid: 991, home: "/nonexistent", shell: "/usr/sbin/nologin")
        return m
    }

    func audit(_ m: FakeMachine) -> [Finding] {
        var o = ClientAuditOptions.backup
        o.checkPaths = true
        o.shadowFile = "/bpfake/shadow"
        o.machine = m
        return ClientAudit.run(configDir: dir, options: o).findings
    }

    func severity(_ findings: [Finding], _ check: String, at location: String? = nil) -> [Finding.Severity] {
        findings.filter { $0.check == check && (location == nil || $0.location == location) }.map(\.severity)
    }

    func testAStagedGoodConfigurationPasses() {
        let f = audit(machine())
        XCTAssertEqual(severity(f, "config.parse"), [.ok], "\(f)")
        XCTAssertEqual(severity(f, "file.safe", at: "\(dir)/borg_env"), [.ok])
        XCTAssertEqual(severity(f, "user.ssh"), [.ok])
        XCTAssertEqual(severity(f, "user.runner"), [.ok])
        XCTAssertEqual(severity(f, "paths.exist"), [.ok])
    }

    func testModesOwnersAccountsAndPathsOfTheStagedMachineAreJudged() {
        var m = machine()
        m.file("\(dir)/borg_env", m.texts["\(dir)/borg_env"], mode: 0o644)
        XCTAssertTrue(
            audit(m).contains { $0.severity == .fail && $0.location == "\(dir)/borg_env" },
            "a passphrase readable by others")

        m = machine()
        m.file(dir, mode: 0o770)
        XCTAssertTrue(audit(m).contains { $0.severity == .fail && $0.location == dir }, "a group-writable config directory")

        m = machine()
        m.file("\(dir)/borg_paths", "/bpfake/data\n", uid: 1000)
        XCTAssertTrue(audit(m).contains { $0.severity == .fail && $0.location == "\(dir)/borg_paths" }, "not root's")

        m = machine()
        m.users["bpfake-ssh"]?.uid = 0
        XCTAssertEqual(severity(audit(m), "user.ssh"), [.fail])

        m = machine()
        m.users["bpfake-runner"] = nil
        XCTAssertEqual(severity(audit(m), "user.runner"), [.fail])

        m = machine()
        m.files["/bpfake/data"] = nil
        XCTAssertEqual(severity(audit(m), "paths.exist"), [.fail])
    }
}
