import BorgPullCore
import BorgPullSystem
import XCTest

/// The server audit (`borgpull-check --server-config`) on a staged machine (`AuditMachine`):
/// the config, LOCAL_USER, REPO_DIR, the identity and known_hosts exist only in the test, so
/// the rules are judged without root or real files. The known_hosts lookup still runs the
/// real ssh-keygen, on the staged file's text. CheckSystemTests audits a real server as root.
final class ServerAuditMachineTests: XCTestCase {
    typealias Machine = AuditMachineTests.FakeMachine
    let conf = "/bpsrvfake/etc/web1.conf"
    let home = "/bpsrvfake/home"
    // A real ed25519 public key (no private part anywhere): the entry ssh-keygen -F finds.
    let hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3C8t5AMQAxuWZlp/SHRda2fc5hj5VQSvJGiNveX6gd"

    func machine() -> Machine {
        var m = Machine()
        for d in ["/bpsrvfake", "/bpsrvfake/etc", "/bpsrvfake/srv"] { m.file(d, mode: 0o755) }
        m.file(
            conf,
            """
            LOCAL_USER=bpfake-borg
            REMOTE_USER=borgpull
            REMOTE_HOST=web1.example
            REPO_NAME=web1
            REPO_DIR=/bpsrvfake/srv/web1
            RUN_DIR=/bpsrvfake/run
            SSH_IDENTITY=\(home)/.ssh/id_ed25519
            SSH_KNOWN_HOSTS=\(home)/.ssh/known_hosts
            """, mode: 0o644)
        m.users["bpfake-borg"] = Account(name: "bpfake-borg", uid: 995, gid: 995, home: home, shell: "/usr/sbin/nologin")
        m.file(home, mode: 0o750, uid: 995)
        m.file("\(home)/.ssh", mode: 0o700, uid: 995)
        m.file("\(home)/.ssh/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n", mode: 0o600, uid: 995)
        m.file("\(home)/.ssh/known_hosts", "web1.example \(hostKey)\n", mode: 0o644, uid: 995)
        m.file("/bpsrvfake/srv/web1", mode: 0o700, uid: 995)
        m.file("/bpsrvfake/run", mode: 0o750, uid: 995)
        return m
    }

    func audit(_ m: Machine) -> [Finding] {
        var o = ServerAudit.Options()
        o.machine = m
        o.globalKnownHosts = []
        o.defaultsFile = "/bpsrvfake/etc/defaults.conf"
        o.systemdRoot = "/bpsrvfake"
        return ServerAudit.run(configFile: conf, options: o)
    }

    func severity(_ findings: [Finding], _ check: String) -> [Finding.Severity] {
        findings.filter { $0.check == check }.map(\.severity)
    }

    func testAStagedGoodServerConfigPasses() {
        let f = audit(machine())
        for check in ["server.parse", "server.user", "server.identity", "server.knownhosts"] {
            XCTAssertEqual(severity(f, check), [.ok], "\(check): \(f.filter { $0.check == check })")
        }
        XCTAssertFalse(f.contains { $0.severity == .fail && $0.location == conf }, "\(f)")
    }

    func testTheStagedFilesAndAccountsAreJudged() {
        var m = machine()
        m.file(conf, m.texts[conf], mode: 0o666)
        XCTAssertTrue(audit(m).contains { $0.severity == .fail && $0.location == conf }, "a config writable by others")

        m = machine()
        m.users["bpfake-borg"] = nil
        XCTAssertEqual(severity(audit(m), "server.user"), [.fail])

        m = machine()
        m.file("\(home)/.ssh/id_ed25519", "key\n", mode: 0o644, uid: 995)
        XCTAssertEqual(severity(audit(m), "server.identity"), [.fail], "an identity others can read")

        m = machine()
        m.file("\(home)/.ssh/known_hosts", "other.example \(hostKey)\n", mode: 0o644, uid: 995)
        XCTAssertEqual(severity(audit(m), "server.knownhosts"), [.fail], "no key for the client")

        m = machine()
        m.file("\(home)/.ssh/known_hosts", "web1.example \(hostKey)\n", mode: 0o666, uid: 995)
        XCTAssertTrue(severity(audit(m), "server.knownhosts").contains(.fail), "a known_hosts others can change")

        m = machine()
        m.file("/bpsrvfake/srv/web1", mode: 0o777, uid: 995)
        XCTAssertTrue(severity(audit(m), "server.repo").contains(.fail), "a repository writable by others")
    }
}
