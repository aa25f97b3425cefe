import Foundation
import XCTest

/// borgpull-server BACKUP -> real sshd (our Match block) -> ForceCommand `borgpull-client
/// trigger --via sudo-client` -> client BACKUP -> archive in the server's repository.
/// Needs root; with BORGPULL_REQUIRE_SYSTEM_TESTS=1 a missing prerequisite fails.
final class ServerEndToEndTests: XCTestCase {
    typealias H = ServerHarness

    override class func tearDown() {
        ServerHarness.shutdown()
        super.tearDown()
    }

    func testSshdAcceptsThePolicyBlock() throws {
        let h = try H.get()
        let t = SrvShell.run(["/usr/sbin/sshd", "-t", "-f", "\(H.sshdDir)/sshd_config"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let eff = SrvShell.run(["/usr/sbin/sshd", "-T", "-f", "\(H.sshdDir)/sshd_config", "-C", "user=\(H.sshUser),host=x,addr=127.0.0.1"])
        for expected in [
            "streamlocalbindunlink yes", "allowstreamlocalforwarding remote", "allowtcpforwarding remote",
            "permitlisten none", "permittty no", "streamlocalbindmask 0117", "allowagentforwarding no",
            "x11forwarding no", "permituserrc no", "clientaliveinterval 15", "forcecommand \(H.bin)/borgpull-client trigger"
        ] {
            XCTAssertTrue(eff.stdout.contains(expected), "sshd -T lacks `\(expected)`")
        }
        _ = h
    }

    func testBackupRestoreAndSecondBackup() throws {
        let h = try H.get()
        let before = h.archives().count
        let r = h.server(json: true)
        XCTAssertEqual(r.status, 0, "BACKUP failed:\n\(r.stderr)")
        XCTAssertTrue(r.stderr.contains("archive:"), r.stderr)
        XCTAssertTrue(r.stdout.contains("\"status\":0"), r.stdout)
        let after = h.archives()
        XCTAssertEqual(after.count, before + 1, "archives: \(after)")
        XCTAssertEqual(h.leftovers(), "", "socat or borg serve left running")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(H.runDir)/bpt.socket"), "server socket left behind")

        // Restore on the server and compare bytes.
        guard let archive = after.last else { return XCTFail("no archive") }
        let dest = "\(H.home)/restore"
        SrvShell.sh("rm -rf \(dest) && install -d -o \(H.localUser) -g \(H.localUser) -m 0700 \(dest)")
        let extract = SrvShell.run([
            "/usr/bin/setpriv", "--reuid=\(H.localUser)", "--regid=\(H.localUser)", "--init-groups", "--",
            "/bin/sh", "-c",
            "cd \(dest) && env -i HOME=\(H.home) BORG_PASSPHRASE='\(H.passphrase)' BORG_RELOCATED_REPO_ACCESS_IS_OK=yes \(TestBorg.binary) extract \(H.repo)::\(archive) \(String(H.data.dropFirst()))"
        ])
        XCTAssertEqual(extract.status, 0, extract.stderr)
        for f in ["random.bin", "hello.txt", "with blank.txt"] {
            let cmp = SrvShell.run(["/usr/bin/cmp", "\(H.data)/\(f)", "\(dest)\(H.data)/\(f)"])
            XCTAssertEqual(cmp.status, 0, "restored \(f) differs: \(cmp.stdout)\(cmp.stderr)")
        }

        // A second BACKUP right after works: no stale socket on either side.
        let r2 = h.server()
        XCTAssertEqual(r2.status, 0, "second BACKUP failed:\n\(r2.stderr)")
        XCTAssertEqual(h.archives().count, before + 2)
        XCTAssertEqual(h.leftovers(), "")
    }

    func testKillingSSHMidBackupLeavesNothingAndNextBackupWorks() throws {
        let h = try H.get()
        // Enough data that borg serve is busy for a few seconds.
        SrvShell.sh("head -c 300000000 /dev/urandom > \(H.data)/big.bin")
        defer { SrvShell.sh("rm -f \(H.data)/big.bin") }
        let log = "\(H.root)/killed-backup.log"
        let p = try SrvShell.start(["\(H.bin)/borgpull-server", "-c", H.serverConf, "BACKUP"], log: log)
        // This run's borg serve and ssh: the server's descendants, never another run's.
        let isSsh = { (argv: [String]) in argv.first?.split(separator: "/").last == "ssh" }
        let serving = SrvShell.waitFor(60) {
            !ProcessTree.find(under: p.pid, { $0.joined(separator: " ").contains("borg serve") }).isEmpty
                && !ProcessTree.find(under: p.pid, isSsh).isEmpty
        }
        XCTAssertTrue(serving, "borg serve never started")
        usleep(1_500_000)
        for ssh in ProcessTree.find(under: p.pid, isSsh) { kill(ssh, SIGKILL) }
        let pStatus = p.wait()
        let out = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertNotEqual(pStatus, 0, out)
        XCTAssertTrue([2, 8].contains(pStatus), "status \(pStatus): \(out)")
        XCTAssertEqual(h.leftovers(), "", "socat or borg serve survived the killed ssh")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(H.runDir)/bpt.socket"))
        // The client's BACKUP notices the dead tunnel and ends; then the next BACKUP succeeds
        // (borg removes the lock of the killed borg serve itself: same host, dead pid).
        XCTAssertTrue(h.waitClientIdle(120), "client BACKUP still running")
        SrvShell.sh("rm -f \(H.data)/big.bin")
        let r = h.server()
        XCTAssertEqual(r.status, 0, "BACKUP after the kill failed:\n\(r.stderr)")
        XCTAssertEqual(h.leftovers(), "")
    }

    /// The server SIGKILLed mid-BACKUP (the OOM killer, `kill -9`, outside systemd's cgroup
    /// cleanup): its ssh, socat and borg serve must not go on without it, as they would then run
    /// with the per-client lock and the MAX_CONCURRENT slot already free (the kernel dropped the
    /// flocks), so a next run of the same client starts beside them.
    /// Both as root (children through setpriv) and as LOCAL_USER (the unit's way; here outside
    /// systemd, as from cron or a shell, with no cgroup to clean up after it).
    func testSigkilledServerLeavesNoTunnelBehind() throws {
        let h = try H.get()
        let asLocal = ["/usr/bin/setpriv", "--reuid=\(H.localUser)", "--regid=\(H.localUser)", "--init-groups", "--"]
        for prefix in [[], asLocal] {
            SrvShell.sh(
                "install -d -o \(H.localUser) -m 0750 \(H.runDir) && touch \(H.runDir)/bpt.socket.lock && chown \(H.localUser) \(H.runDir)/bpt.socket.lock")
            SrvShell.sh("head -c 300000000 /dev/urandom > \(H.data)/big.bin")
            defer { SrvShell.sh("rm -f \(H.data)/big.bin") }
            let log = "\(H.root)/sigkilled-server.log"
            let p = try SrvShell.start(prefix + ["\(H.bin)/borgpull-server", "-c", H.serverConf, "BACKUP"], log: log)
            let isSsh = { (argv: [String]) in argv.first?.split(separator: "/").last == "ssh" }
            let serving = SrvShell.waitFor(60) {
                !ProcessTree.find(under: p.pid, { $0.joined(separator: " ").contains("borg serve") }).isEmpty
                    && !ProcessTree.find(under: p.pid, isSsh).isEmpty
            }
            XCTAssertTrue(serving, "borg serve never started")
            let ssh = ProcessTree.find(under: p.pid, isSsh)
            usleep(1_000_000)
            kill(p.pid, SIGKILL)
            XCTAssertEqual(p.wait(), 128 + SIGKILL)
            let gone = SrvShell.waitFor(15) { h.leftovers() == "" && ssh.allSatisfy { kill($0, 0) != 0 } }
            let left = h.leftovers()
            // Clean up whatever survived, by pid, so the next tests start clean.
            if !gone {
                for pid in ssh { kill(pid, SIGKILL) }
                for line in left.split(separator: "\n") { if let pid = Int32(line.split(separator: " ").first ?? "") { kill(pid, SIGKILL) } }
            }
            XCTAssertTrue(
                gone,
                "\(prefix.isEmpty ? "as root" : "as LOCAL_USER"): 15 s after the server's SIGKILL still running: ssh \(ssh.filter { kill($0, 0) == 0 }) \(left)"
            )
            XCTAssertTrue(h.waitClientIdle(120), "client BACKUP still running")
            SrvShell.sh("rm -f \(H.data)/big.bin")
            let r = h.server()
            XCTAssertEqual(r.status, 0, "BACKUP after the server's SIGKILL failed:\n\(r.stderr)")
            XCTAssertEqual(h.leftovers(), "")
        }
    }

    func testPreHookFailureReachesServerWithStepName() throws {
        let h = try H.get()
        let hook = "\(H.clientDir)/borg_hook_pre"
        h.write(hook, "#!/bin/sh\necho 'database dump failed' >&2\nexit 3\n", mode: 0o700)
        defer { unlink(hook) }
        let r = h.server(json: true)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("pre-hook"), "summary does not name the step:\n\(r.stderr)")
        XCTAssertTrue(r.stdout.contains("\"name\":\"client-backup-failed\""), r.stdout)
        XCTAssertEqual(h.leftovers(), "")
    }

    func testWrongHostKeyIsRefusedAndNothingStartsOnClient() throws {
        let h = try H.get()
        let kh = "\(H.home)/.ssh/known_hosts.wrong"
        SrvShell.sh(
            """
            rm -f /tmp/bpt-other-key /tmp/bpt-other-key.pub
            ssh-keygen -q -t ed25519 -N '' -f /tmp/bpt-other-key
            echo "[127.0.0.1]:\(h.port) $(cut -d' ' -f1,2 /tmp/bpt-other-key.pub)" > \(kh)
            chown \(H.localUser): \(kh)
            """)
        let conf = "\(H.root)/server-wrong-key.conf"
        h.writeServerConfig(["SSH_KNOWN_HOSTS": kh], to: conf)
        let mtime = (try? FileManager.default.attributesOfItem(atPath: H.resultFile)[.modificationDate]) as? Date
        let before = h.archives().count
        let r = h.server(config: conf)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.lowercased().contains("host key"), r.stderr)
        XCTAssertTrue(r.stderr.contains("nothing was started on the client"), r.stderr)
        let mtime2 = (try? FileManager.default.attributesOfItem(atPath: H.resultFile)[.modificationDate]) as? Date
        XCTAssertEqual(mtime, mtime2, "the client wrote a result record: a BACKUP ran")
        XCTAssertEqual(h.archives().count, before)
        XCTAssertEqual(h.leftovers(), "")
    }

    func testUnreachableClientFailsWithinTimeout() throws {
        let h = try H.get()
        // A closed port: refused at once.
        let closed = "\(H.root)/server-closed.conf"
        h.writeServerConfig(["SSH_PORT": String(SrvShell.freePort())], to: closed)
        let r = h.server(config: closed)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("cannot reach"), r.stderr)
        // A blackholed address: ConnectTimeout applies.
        let black = "\(H.root)/server-blackhole.conf"
        h.writeServerConfig(["REMOTE_HOST": "10.255.255.1", "CONNECT_TIMEOUT": "3"], to: black)
        let r2 = h.server(config: black)
        XCTAssertEqual(r2.status, 3, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("cannot reach") || r2.stderr.contains("ssh to"), r2.stderr)
        XCTAssertLessThan(r2.seconds, 3 + 7, "did not give up within CONNECT_TIMEOUT")
        XCTAssertEqual(h.leftovers(), "")
    }

    func testSecondRunOfTheSameClientIsRefusedAtOnce() throws {
        let h = try H.get()
        // Hold the per-client lock as another run would.
        // One process holds it (flock(1) would hand the descriptor on to its child).
        SrvShell.sh("install -d -o \(H.localUser) -m 0750 \(H.runDir)")
        let holder = try SrvShell.start(
            ["/usr/bin/python3", "-c", "import fcntl,time;f=open('\(H.runDir)/bpt.socket.lock','a');fcntl.flock(f,fcntl.LOCK_EX);time.sleep(30)"],
            log: "/dev/null")
        defer { holder.signal(SIGTERM); holder.wait() }
        usleep(300_000)
        let r = h.server()
        XCTAssertEqual(r.status, 5, r.stderr)
        XCTAssertLessThan(r.seconds, 5)
        XCTAssertTrue(r.stderr.contains("holds the lock"), r.stderr)
    }

    func testDeadSocketIsRemovedLiveSocketRefused() throws {
        let h = try H.get()
        let s = "\(H.runDir)/bpt.socket"
        SrvShell.sh("install -d -o \(H.localUser) -m 0750 \(H.runDir)")
        // Dead: bound, never listening, process gone.
        SrvShell.run(["/usr/bin/python3", "-c", "import socket;s=socket.socket(socket.AF_UNIX);s.bind('\(s)')"])
        XCTAssertTrue(h.isSocket(s))
        let r = h.server()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("removed a dead socket"), r.stderr)
        // Live: someone listens.
        let live = try SrvShell.start(["/usr/bin/socat", "UNIX-LISTEN:\(s),fork", "EXEC:/bin/true"], log: "/dev/null")
        defer { live.signal(SIGTERM); live.wait() }
        XCTAssertTrue(SrvShell.waitFor(5) { h.isSocket(s) })
        let r2 = h.server()
        XCTAssertEqual(r2.status, 5, r2.stderr)
        XCTAssertTrue(r2.stderr.contains("live socket"), r2.stderr)
    }

    /// A run as root (by hand, as README's first steps do) creates the lock file LOCAL_USER's
    /// (fchown by descriptor), so the units (User=LOCAL_USER) can open it afterwards; before, a
    /// root-owned 0600 lock made every later unit run fail with serve-failed (exit 9).
    func testLockFileARootRunCreatesIsLocalUsers() throws {
        let h = try H.get()
        let lock = "\(H.runDir)/bpt.socket.lock"
        _ = unlink(lock)
        let r = h.server(json: false)
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let pw = getpwnam(H.localUser) else { return XCTFail("no \(H.localUser)") }
        var st = stat()
        XCTAssertEqual(lstat(lock, &st), 0)
        XCTAssertEqual(st.st_uid, pw.pointee.pw_uid, "the lock file after a root run is not LOCAL_USER's")
        XCTAssertEqual(st.st_nlink, 1)
    }
}
