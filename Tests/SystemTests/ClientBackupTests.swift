import Foundation
import XCTest

/// The client BACKUP against real borg, a real `borg serve` behind real socat.
final class ClientBackupTests: XCTestCase {
    func testArchiveRestoresByteIdenticalAndPruneKeepsOtherPrefixes() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()

        // Another host's archives in the same repository (prefix "otherhost").
        f.writeEnv("ARCHIVE_PREFIX=otherhost\nKEEP_LAST=10\n")
        for _ in 0..<2 {
            XCTAssertEqual(f.client(["BACKUP"]).status, 0)
            sleep(1)  // {now} has one-second resolution
        }
        // This host: two backups on the same day; retention from borg_env (not borg's defaults)
        // keeps one. (With the defaults, borg 1.2's "daily[oldest]" rule would keep both.)
        f.writeEnv("KEEP_DAILY=1\nKEEP_WEEKLY=0\nKEEP_MONTHLY=0\n")
        f.installHooks()
        var last = Shell.Output(status: -1, stdout: "", stderr: "")
        for _ in 0..<2 {
            last = f.client(["backup", "--json"])
            XCTAssertEqual(last.status, 0, last.stderr)
            sleep(1)
        }
        XCTAssertTrue(f.ran("pre") && f.ran("post"))
        let names = f.archives()
        let host = Shell.run(["hostname", "-s"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(names.filter { $0.hasPrefix("otherhost-") }.count, 2, "\(names)")
        XCTAssertEqual(names.filter { $0.hasPrefix("\(host)-") }.count, 1, "\(names)")

        // The record (also printed with --json) names the archive and borg's stats.
        let rec = try XCTUnwrap(f.record())
        let archive = try XCTUnwrap(rec["archive"] as? String)
        XCTAssertTrue(names.contains(archive))
        XCTAssertTrue(last.stdout.contains("\"archive\" : \"\(archive)\""), last.stdout)
        XCTAssertEqual((rec["status"] as? [String: Any])?["name"] as? String, "ok")
        XCTAssertNotNil((rec["stats"] as? [String: Any])?["original_size"])
        XCTAssertTrue(last.stderr.contains("BACKUP ok"), last.stderr)

        for file in ["random.bin", "root-only.txt"] {
            let restored = f.client(["borg", "extract", "--stdout", "::\(archive)", String("\(f.data)/\(file)".dropFirst())])
            XCTAssertEqual(restored.status, 0, restored.stderr)
            let original = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "\(f.data)/\(file)")), as: UTF8.self)
            XCTAssertEqual(restored.stdout, original, "\(file) restores byte-identical")
        }
        // No secret in the record.
        let text = try String(contentsOfFile: "\(f.state)/results/last-backup.json", encoding: .utf8)
        XCTAssertFalse(text.contains("a b$c"))
    }

    func testPreHookFailureMeansNoArchiveButPostHookRuns() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        f.installHooks(pre: "exit 3")
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(f.ran("post"))
        XCTAssertEqual(f.step("pre-hook")?["status"] as? String, "failed")
        XCTAssertNil(f.step("create"))
        XCTAssertEqual(f.archives(), [])
        let post = try String(contentsOfFile: "\(f.root)/post.ran", encoding: .utf8)
        XCTAssertEqual(post, "pre-hook-failed\n", "the post hook learns what happened")
    }

    func testBorgErrorNamesBorgAndPostHookRuns() throws {
        let f = try ClientFixture()
        try f.startServer()
        f.writeEnv("export BORG_REPO=ssh://backup-server/nonexistent/repository\n")
        f.installHooks()
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(f.ran("post"))
        XCTAssertEqual(f.step("create")?["status"] as? String, "failed")
        XCTAssertTrue((f.step("create")?["message"] as? String ?? "").contains("borg create failed"))
        XCTAssertEqual(f.step("prune")?["status"] as? String, "skipped")
        XCTAssertTrue(r.stderr.contains("borg create failed"), r.stderr)
    }

    func testSigtermDuringCreateRunsPostHookAndSecondBackupIsRefused() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        f.installHooks()
        f.blockBorgCreate()
        let err = Pipe()
        let p = try f.startBackupInBackground(stderr: err, settle: 2)

        let started = Date()
        let second = f.client(["BACKUP"])
        XCTAssertEqual(second.status, 11, second.stderr)
        XCTAssertTrue(second.stderr.contains("another run holds the lock"), second.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "refused at once")

        let borgs = ClientFixture.borgCreates(of: p.processIdentifier)
        XCTAssertFalse(borgs.isEmpty, "borg create runs")
        p.terminate()  // SIGTERM, as systemctl stop would send
        p.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 5, log)
        XCTAssertTrue(f.ran("post"), log)
        XCTAssertEqual(f.step("create")?["status"] as? String, "interrupted")
        XCTAssertFalse(borgs.contains { ProcessTree.isRunning($0, TestBorg.isCreate) }, "no borg left behind")

        // The next BACKUP works: no stale run lock, no stale repository lock.
        Shell.sh("rm -f \(f.data)/fifo \(f.conf)/borg_options_create")
        f.clearMarkers()
        let again = f.client(["BACKUP"])
        XCTAssertEqual(again.status, 0, again.stderr)
    }

    /// borg killed with SIGKILL leaves its locks; the next BACKUP must get past them (borg kills
    /// a stale lock of a dead pid on this host id, then waits: clock_nanosleep under seccomp).
    /// And the client killed with SIGKILL takes its borg with it (parent-death signal).
    func testKilledBorgAndKilledClientLeaveNothingThatBlocksTheNextBackup() throws {
        let f = try ClientFixture()
        try f.startServer()
        try f.initRepository()
        f.installHooks()
        f.blockBorgCreate()
        // 1. SIGKILL borg: BACKUP reports borg's failure, the post hook runs.
        let p = try f.startBackupInBackground()
        let borgs = ClientFixture.borgCreates(of: p.processIdentifier)
        XCTAssertFalse(borgs.isEmpty, "borg create runs")
        for b in borgs { kill(b, SIGKILL) }
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 2)
        XCTAssertTrue(f.ran("post"))
        // 2. SIGKILL the client: its borg dies with it.
        let q = try f.startBackupInBackground()
        let orphans = ClientFixture.borgCreates(of: q.processIdentifier)
        XCTAssertFalse(orphans.isEmpty, "borg create runs")
        kill(q.processIdentifier, SIGKILL)
        q.waitUntilExit()
        var gone = false
        for _ in 0..<50 where !gone {
            usleep(100_000)
            gone = !orphans.contains { ProcessTree.isRunning($0, TestBorg.isCreate) }
        }
        XCTAssertTrue(gone, "borg did not die with its client")
        // 3. The next BACKUP works: stale locks are borg's to clear, and it can wait for them.
        Shell.sh("rm -f \(f.data)/fifo \(f.conf)/borg_options_create")
        f.writeEnv("LOCK_WAIT=5\n")
        let again = f.client(["BACKUP"])
        XCTAssertEqual(again.status, 0, again.stderr)
    }

    func testStaleSocketStopsBeforeThePreHook() throws {
        let f = try ClientFixture()
        try f.startServer()
        f.stopServer(leaveSocket: true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: f.socket))
        f.installHooks()
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 10, r.stderr)
        XCTAssertTrue(r.stderr.contains("stale socket"), r.stderr)
        XCTAssertFalse(f.ran("pre"))
        XCTAssertFalse(f.ran("post"))
    }

    func testSocketThatIsAFileDirectoryOrSymlinkIsRefused() throws {
        let f = try ClientFixture()
        f.installHooks()
        let live = "\(f.socketDir)/real.socket"
        for (setup, words) in [
            ("touch \(f.socket)", "regular file"), ("mkdir \(f.socket)", "directory"),
            ("ln -s \(live) \(f.socket)", "symbolic link"), (":", "does not exist")
        ] {
            Shell.sh("rm -rf \(f.socket); \(setup); chown -h \(ClientFixture.sshUser) \(f.socket) 2>/dev/null")
            let r = f.client(["BACKUP"])
            XCTAssertEqual(r.status, 10, "\(setup): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(words), "\(setup): \(r.stderr)")
            XCTAssertFalse(f.ran("pre"))
        }
    }

    func testRelayRefusesAPeerThatIsNotTheSSHUser() throws {
        let f = try ClientFixture()
        Shell.sh("chown \(ClientFixture.otherUser) \(f.socketDir)")
        try f.startServer(as: ClientFixture.otherUser)
        let relay = Shell.run(
            [
                Shell.product("borgpull-client"), "relay", "--socket", f.socket,
                "--peer-uid", String(Shell.uid(ClientFixture.sshUser)), "host", "borg", "serve"
            ], stdin: "")
        XCTAssertEqual(relay.status, 255)
        XCTAssertTrue(relay.stderr.contains("not the ssh user's uid"), relay.stderr)
        // And BACKUP refuses the socket before anything runs.
        f.installHooks()
        let r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 10, r.stderr)
        XCTAssertFalse(f.ran("pre"))
    }

    /// The relay is spawned by borg with pipes (as borg's `subprocess.Popen` does). A lone
    /// message reaches the server and its answer comes back while stdin stays open (the hold
    /// ends by itself); 40 small messages written 0.3 ms apart reach the server in fewer than 30
    /// reads (39-40 without the hold; room for a loaded machine's late sleeps), and every byte
    /// arrives.
    func testRelayCoalescesSmallWritesTowardsTheServerButHoldsNothingForever() throws {
        let f = try ClientFixture()
        let counts = "\(f.socketDir)/server-reads"
        let serverScript = """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o660); s.listen(1)
            c, _ = s.accept(); reads = total = 0
            while True:
                d = c.recv(1 << 20)
                if not d: break
                if d == b"ping": c.sendall(b"pong"); continue
                reads += 1; total += len(d)
            open(sys.argv[2], "w").write(f"{reads} {total}")
            """
        let driver = """
            import select, subprocess, sys, time
            p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
            p.stdin.write(b"ping")
            if not select.select([p.stdout], [], [], 30)[0] or p.stdout.read(4) != b"pong": sys.exit("no answer to a lone message")
            for _ in range(40):
                p.stdin.write(b"x" * 100); time.sleep(0.0003)
            p.stdin.close(); sys.exit(p.wait(30))
            """
        let r = try runRelay(f, server: serverScript, driver: driver, serverOutput: counts)
        XCTAssertEqual(r.status, 0, r.stderr)
        let words = ((try? String(contentsOfFile: counts, encoding: .utf8)) ?? "").split(separator: " ").compactMap { Int($0) }
        XCTAssertEqual(words.count, 2, "the test server wrote no counts")
        guard words.count == 2 else { return }
        XCTAssertEqual(words[1], 4000, "every byte reaches the server")
        XCTAssertLessThan(words[0], 30, "40 messages 0.3 ms apart took \(words[0]) reads: the relay did not coalesce them")
    }

    /// A server that reads slower than borg writes keeps the relay's queue from running empty.
    /// 96 MiB through it must not make the relay hold them all: its peak RSS (ru_maxrss of the
    /// driver's only child) stays below 48 MB. Without dropping written bytes from the queue's
    /// front it was 76-236 MB for 120-300 MiB.
    func testRelayMemoryStaysBoundedBehindASlowServer() throws {
        let f = try ClientFixture()
        let serverScript = """
            import os, socket, sys, time
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o660); s.listen(1)
            c, _ = s.accept(); total = 0
            while True:
                d = c.recv(1 << 16)
                if not d: break
                total += len(d); time.sleep(0.0005)
            open(sys.argv[2], "w").write(str(total))
            """
        let driver = """
            import resource, subprocess, sys
            p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, bufsize=0)
            block = b"y" * (1 << 20)
            for _ in range(96): p.stdin.write(block)
            p.stdin.close(); rc = p.wait(300)
            print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)
            """
        let total = "\(f.socketDir)/server-total"
        let r = try runRelay(f, server: serverScript, driver: driver, serverOutput: total)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual((try? String(contentsOfFile: total, encoding: .utf8)) ?? "", String(96 << 20), "every byte reaches the server")
        let peakKB = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max
        print("relay: peak RSS \(peakKB) kB for 96 MiB towards a slow server")
        XCTAssertLessThan(peakKB, 48 * 1024, "the relay's peak RSS was \(peakKB) kB for 96 MiB relayed")
    }

    /// Runs the relay as borg does, between two Python scripts: `server` (argv: the socket path,
    /// `serverOutput`) listens on the fixture's socket as the ssh user, as sshd's forwarded socket
    /// would; `driver` (argv: the relay's command line) spawns the relay with pipes. Returns the
    /// driver's output once the server has ended (at the relay's EOF; stopped if the driver failed).
    func runRelay(_ f: ClientFixture, server serverScript: String, driver: String, serverOutput: String) throws -> Shell.Output {
        // The socket directory belongs to the ssh user, who runs the stand-in for sshd's socket.
        for (name, text) in [("server.py", serverScript), ("driver.py", driver)] {
            XCTAssertTrue(FileManager.default.createFile(atPath: "\(f.socketDir)/\(name)", contents: Data(text.utf8)))
            chmod("\(f.socketDir)/\(name)", 0o644)
        }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        server.arguments = [
            "--reuid", ClientFixture.sshUser, "--regid", ClientFixture.sshUser, "--init-groups",
            "/usr/bin/python3", "\(f.socketDir)/server.py", f.socket, serverOutput
        ]
        server.standardError = FileHandle.nullDevice
        try server.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: f.socket) { usleep(50_000) }
        let r = Shell.run([
            "/usr/bin/python3", "\(f.socketDir)/driver.py", Shell.product("borgpull-client"), "relay", "--socket", f.socket,
            "--peer-uid", String(Shell.uid(ClientFixture.sshUser)), "host", "borg", "serve"
        ])
        if r.status != 0 { server.terminate() }
        server.waitUntilExit()
        return r
    }

    func testBadInputGivesAClearErrorAndRunsNothing() throws {
        let f = try ClientFixture()
        try f.startServer()
        f.installHooks()

        let missing = Shell.run([Shell.product("borgpull-client"), "-c", "\(f.root)/nope", "BACKUP"])
        XCTAssertEqual(missing.status, 12)
        XCTAssertTrue(missing.stderr.contains("\(f.root)/nope: the config directory does not exist"), missing.stderr)

        f.write("borg_paths", "\(f.data)\n\(f.root)/not-there\n")
        var r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 12, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(f.root)/not-there (\(f.conf)/borg_paths:2) does not exist"), r.stderr)
        XCTAssertTrue(f.ran("post"), "the pre hook ran, so the post hook runs")
        f.write("borg_paths", "\(f.data)\n")

        f.clearMarkers()
        chmod("\(f.conf)/borg_hook_pre", 0o600)
        r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 12, r.stderr)
        XCTAssertTrue(r.stderr.contains("borg_hook_pre: the hook exists but is not executable"), r.stderr)
        XCTAssertFalse(f.ran("post"), "nothing runs when a hook is not executable")

        f.clearMarkers()
        f.installHooks(pre: "sleep 600")
        f.writeEnv("HOOK_TIMEOUT=2\n")
        let t0 = Date()
        r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 30)
        XCTAssertTrue(r.stderr.contains("pre-hook timed out after 2 s"), r.stderr)
        XCTAssertTrue(f.ran("post"))

        f.clearMarkers()
        f.writeEnv()
        chmod("\(f.conf)/borg_env", 0o644)
        r = f.client(["BACKUP"])
        XCTAssertEqual(r.status, 12, r.stderr)
        XCTAssertTrue(r.stderr.contains("chmod 0600 \(f.conf)/borg_env"), r.stderr)
        XCTAssertFalse(f.ran("pre"))
    }

    func testSetupCreatesTheSocketDirectoryAndRefusesAForeignOne() throws {
        let f = try ClientFixture()
        Shell.sh("rm -rf \(f.socketDir)")
        var r = f.client(["SETUP"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let attrs = try FileManager.default.attributesOfItem(atPath: f.socketDir)
        XCTAssertEqual(attrs[.ownerAccountName] as? String, ClientFixture.sshUser)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o710)
        XCTAssertEqual(f.client(["setup"]).status, 0, "idempotent")

        Shell.sh("chown \(ClientFixture.otherUser) \(f.socketDir)")
        r = f.client(["SETUP"])
        XCTAssertEqual(r.status, 12)
        XCTAssertTrue(r.stderr.contains("not by the ssh user"), r.stderr)
        let after = try FileManager.default.attributesOfItem(atPath: f.socketDir)
        XCTAssertEqual(after[.ownerAccountName] as? String, ClientFixture.otherUser, "not taken over")
    }
}
