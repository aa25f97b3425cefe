import Foundation
import XCTest

/// `borgpull-server COMPACT` and `CHECK` with real borg on a real repository owned by a test
/// LOCAL_USER. The commands run with no passphrase and no key anywhere in their environment
/// (repokey: the key lives in the repository, encrypted; borg needs no key to compact or check).
final class MaintenanceTests: XCTestCase {
    static let user = "bptest-maint"
    static let passphrase = "maintenance test passphrase"

    var root = ""
    var repo: String { "\(root)/repo" }
    var conf: String { "\(root)/server.conf" }
    var state: String { "\(root)/state" }
    var runDir = ""

    override func setUpWithError() throws {
        try requireRoot()
        try Prerequisites.requireTools(["borg", "setpriv", "python3"])
        Shell.ensureUser(Self.user)
        let id = UUID().uuidString.prefix(8).lowercased()
        root = "/var/lib/borgpull-test/maint-\(id)"
        runDir = "/run/bptest-maint-\(id)"
        XCTAssertEqual(
            Shell.sh("mkdir -p -m 0755 /var/lib/borgpull-test && mkdir -m 0755 \(root) && install -d -o \(Self.user) -g \(Self.user) -m 0700 \(root)/home")
                .status, 0)
        writeConfig()
    }

    override func tearDown() {
        Shell.sh("rm -rf \(root) \(runDir)")
    }

    func writeConfig(_ extra: String = "") {
        let text = """
            LOCAL_USER=\(Self.user)
            REMOTE_HOST=client.invalid
            REPO_NAME=maint
            REPO_DIR=\(repo)
            RUN_DIR=\(runDir)
            STATE_DIR=\(state)
            PROMETHEUS_TEXTFILE_DIR=
            \(extra)
            """
        XCTAssertTrue(FileManager.default.createFile(atPath: conf, contents: Data(text.utf8)))
        chmod(conf, 0o644)
    }

    /// borg as LOCAL_USER with the passphrase (what the test does to make data; never COMPACT/CHECK).
    @discardableResult
    func borg(_ args: String) -> Shell.Output {
        Shell.sh(
            "cd / && setpriv --reuid=\(Self.user) --regid=\(Self.user) --init-groups env -i HOME=\(root)/home PATH=/usr/bin:/bin BORG_PASSPHRASE='\(Self.passphrase)' borg \(args)"
        )
    }

    /// The server command, with an environment that holds no passphrase.
    func server(_ mode: String, json: Bool = false) -> Shell.Output {
        Shell.run([Shell.product("borgpull-server"), "-c", conf] + (json ? ["--json"] : []) + [mode], env: ["PATH": "/usr/bin:/bin"])
    }

    /// A repository with three archives of 2 MB of incompressible data each, none shared.
    func makeRepository() {
        Shell.sh("install -d -o \(Self.user) -g \(Self.user) -m 0700 \(repo)")
        let initialised = borg("init --encryption=repokey-blake2 \(repo)")
        XCTAssertEqual(initialised.status, 0, initialised.stderr)
        for i in 1...3 {
            Shell.sh(
                "install -d -o \(Self.user) \(root)/home/data\(i) && head -c 2000000 /dev/urandom > \(root)/home/data\(i)/blob && chown -R \(Self.user) \(root)/home/data\(i)"
            )
            let r = borg("create --compression none \(repo)::a\(i) \(root)/home/data\(i)")
            XCTAssertEqual(r.status, 0, r.stderr)
        }
    }

    func testCompactFreesWhatDeletedArchivesHeldAndTheRestRestores() throws {
        makeRepository()
        // What a prune through the append-only tunnel leaves: archives deleted, space not freed.
        XCTAssertEqual(borg("delete \(repo)::a1").status, 0)
        XCTAssertEqual(borg("delete \(repo)::a2").status, 0)
        let r = server("COMPACT", json: true)
        XCTAssertEqual(r.status, 0, r.stderr)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let before = try XCTUnwrap(record["bytes_before"] as? Int)
        let after = try XCTUnwrap(record["bytes_after"] as? Int)
        // Two archives of 2 MB each were freed (borg's own metadata varies a little).
        XCTAssertGreaterThan(before - after, 3_800_000, r.stderr)
        XCTAssertLessThan(before - after, 4_400_000, r.stderr)
        XCTAssertTrue(r.stderr.contains("before") && r.stderr.contains("after"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(state)/last-compact.json"))
        // The remaining archive restores byte-identical.
        Shell.sh("install -d -o \(Self.user) \(root)/home/restore")
        let extract = Shell.sh(
            "cd \(root)/home/restore && setpriv --reuid=\(Self.user) --regid=\(Self.user) --init-groups env -i HOME=\(root)/home PATH=/usr/bin:/bin BORG_PASSPHRASE='\(Self.passphrase)' borg extract \(repo)::a3"
        )
        XCTAssertEqual(extract.status, 0, extract.stderr)
        XCTAssertEqual(Shell.run(["cmp", "\(root)/home/data3/blob", "\(root)/home/restore\(root)/home/data3/blob"]).status, 0)
    }

    func testCheckIsOkThenNamesTheDamagedSegment() throws {
        makeRepository()
        let ok = server("CHECK", json: true)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("\"name\":\"ok\""), ok.stdout)
        // One flipped byte in the middle of the largest segment.
        let segment = Shell.sh("ls -S \(repo)/data/*/* | head -n 1").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(
            Shell.run([
                "/usr/bin/python3", "-c", "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xff; open(p,'wb').write(b)", segment
            ]).status, 0)
        let bad = server("CHECK")
        XCTAssertEqual(bad.status, 11, bad.stderr)
        let number = (segment as NSString).lastPathComponent
        XCTAssertTrue(bad.stderr.contains("segment \(number)"), "the summary names the segment \(number):\n\(bad.stderr)")
        XCTAssertTrue(bad.stderr.contains("borg check --repair") && bad.stderr.contains("never repairs"), bad.stderr)
    }

    func testMaintenanceIsRefusedAtOnceWhileAnotherRunHoldsTheClientsLock() throws {
        makeRepository()
        // The lock BACKUP and SERVE take (LOCK_FILE, default SOCKET_PATH.lock in RUN_DIR).
        Shell.sh("install -d -o \(Self.user) -m 0750 \(runDir)")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", "import fcntl, time; f = open('\(runDir)/maint.socket.lock', 'a'); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(30)"]
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        usleep(300_000)
        let started = Date()
        let r = server("COMPACT")
        XCTAssertEqual(r.status, 5, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "refused at once, not after waiting")
        XCTAssertTrue(r.stderr.contains("holds the lock"), r.stderr)
    }

    func testBadRepositoriesGetAClearErrorAndNothingRuns() throws {
        // Missing.
        var r = server("COMPACT")
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("does not exist") && r.stderr.contains(repo), r.stderr)
        // Not a repository.
        Shell.sh("install -d -o \(Self.user) -m 0700 \(repo)")
        r = server("CHECK")
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("not a borg repository"), r.stderr)
        Shell.sh("rmdir \(repo)")
        // Not LOCAL_USER's.
        makeRepository()
        Shell.sh("chown root: \(repo)")
        r = server("COMPACT")
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("owned by uid 0") && r.stderr.contains("chown -R"), r.stderr)
        Shell.sh("chown \(Self.user): \(repo)")
        // append_only = 1: compact would free nothing.
        XCTAssertEqual(borg("config \(repo) append_only 1").status, 0)
        r = server("COMPACT")
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("append_only = 1") && r.stderr.contains("borg config"), r.stderr)
    }

    func testSigtermDuringCheckStopsBorgReleasesTheLockAndTheNextRunWorks() throws {
        makeRepository()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Shell.product("borgpull-server"))
        p.arguments = ["-c", conf, "CHECK"]
        p.environment = ["PATH": "/usr/bin:/bin"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        // This run's borg check: the server's descendants, never another run's.
        let isCheck = { (argv: [String]) in ProcessTree.argv(argv, contains: ["check", "--repository-only"]) }
        var checks: [pid_t] = []
        for _ in 0..<100 where checks.isEmpty {
            usleep(50_000)
            checks = ProcessTree.find(under: p.processIdentifier, isCheck)
        }
        XCTAssertFalse(checks.isEmpty, "borg check did not start")
        p.terminate()
        p.waitUntilExit()
        XCTAssertTrue([0, 6].contains(p.terminationStatus), "status \(p.terminationStatus)")
        XCTAssertFalse(checks.contains { ProcessTree.isRunning($0, isCheck) }, "borg still runs")
        let again = server("CHECK")
        XCTAssertEqual(again.status, 0, again.stderr)
    }

    /// The lock file is truncated and written as root when COMPACT starts as root: a hard link
    /// planted there (LOCAL_USER's run directory) is refused, and the file it names is intact.
    func testAHardLinkedLockFileIsRefusedAndItsTargetKept() throws {
        makeRepository()
        let victim = "\(root)/victim"
        Shell.sh(
            "echo important > \(victim) && chmod 0600 \(victim) && install -d -o \(Self.user) -m 0750 \(runDir) && ln \(victim) \(runDir)/maint.socket.lock")
        let r = server("COMPACT")
        XCTAssertEqual(r.status, 9, r.stderr)
        XCTAssertTrue(r.stderr.contains("one link"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "important\n")
    }
}
