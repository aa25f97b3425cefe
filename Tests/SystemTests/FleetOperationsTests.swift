import Foundation
import XCTest

/// Fleet operations against the real harness (sshd on 127.0.0.1, real borg, socat, curl):
/// healthcheck pings to a local HTTP listener, NOTIFY_COMMAND, and MAX_CONCURRENT with six
/// clients behind one more sshd. Needs root; BORGPULL_REQUIRE_SYSTEM_TESTS=1 turns a skip into a failure.
final class FleetOperationsTests: XCTestCase {
    typealias H = ServerHarness
    static let dir = "\(ServerHarness.root)/fleet"

    override class func tearDown() {
        ServerHarness.shutdown()
        super.tearDown()
    }

    /// argv of borgpull-server outside systemd, whatever the test runner's environment holds.
    func serverArgv(_ conf: String, defaults: String? = nil, json: Bool = false) -> [String] {
        ["/usr/bin/env", "-u", "INVOCATION_ID", "\(H.bin)/borgpull-server", "-c", conf]
            + (defaults.map { ["--defaults", $0] } ?? []) + (json ? ["--json"] : []) + ["BACKUP"]
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// A listener on 127.0.0.1:port that appends `METHOD PATH BODY` per request to `log`.
    func startListener(port: Int, log: String) throws -> SrvShell.Background {
        let script = "\(Self.dir)/listener.py"
        try """
        import http.server, sys
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                with open(sys.argv[2], "a") as f:
                    f.write(self.command + " " + self.path + " " + body + "\\n")
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")
            do_GET = do_POST
            def log_message(self, *a):
                pass
        http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let l = try SrvShell.start(["/usr/bin/python3", script, String(port), log], log: log + ".out")
        XCTAssertTrue(
            SrvShell.waitFor(10) {
                SrvShell.run(["/usr/bin/python3", "-c", "import socket;socket.create_connection(('127.0.0.1',\(port)),1)"]).status == 0
            }, "listener did not start")
        return l
    }

    func testHealthcheckPingsAndNotifyCommand() throws {
        let h = try H.get()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { return try SrvShell.unmet("needs /usr/bin/curl (apt-get install curl)") }
        SrvShell.sh("rm -rf \(Self.dir) && install -d -m 0755 \(Self.dir) && install -d -m 0700 -o \(H.localUser) \(Self.dir)/out")
        let port = SrvShell.freePort()
        let secret = "check-\(UUID().uuidString.lowercased())"
        let pings = "\(Self.dir)/pings.log"
        let listener = try startListener(port: port, log: pings)
        defer { listener.signal(SIGTERM); listener.wait() }
        // NOTIFY_COMMAND: root's script, run as LOCAL_USER; keeps its stdin, uid and status.
        h.write(
            "\(Self.dir)/notify.sh",
            "#!/bin/sh\ncat > \(Self.dir)/out/stdin.json\nid -u > \(Self.dir)/out/uid\necho \"$BORGPULL_STATUS $BORGPULL_EXIT\" > \(Self.dir)/out/status\n",
            mode: 0o755)
        let conf = "\(Self.dir)/hc.conf"
        let url = "http://127.0.0.1:\(port)/ping/\(secret)"
        h.writeServerConfig(["HEALTHCHECK_URL": url, "NOTIFY_COMMAND": "\(Self.dir)/notify.sh"], to: conf)

        // Success: /start, then the URL itself; no notification; the secret is not logged.
        let ok = SrvShell.run(serverArgv(conf))
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(
            read(pings).split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") },
            ["POST /ping/\(secret)/start", "POST /ping/\(secret)"], read(pings))
        XCTAssertFalse(ok.stderr.contains(secret), "the ping URL's secret reached the log")
        XCTAssertTrue(ok.stderr.contains("ping to 127.0.0.1 sent"), ok.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(Self.dir)/out/stdin.json"), "notified on success")

        // A client that cannot be reached: /fail names the step; NOTIFY_COMMAND gets the --json line.
        _ = try? FileManager.default.removeItem(atPath: pings)
        let closed = SrvShell.freePort()
        h.writeServerConfig(["HEALTHCHECK_URL": url, "NOTIFY_COMMAND": "\(Self.dir)/notify.sh", "SSH_PORT": String(closed)], to: conf)
        let fail = SrvShell.run(serverArgv(conf, json: true))
        XCTAssertEqual(fail.status, 3, fail.stderr)
        let failLines = read(pings).split(separator: "\n").map(String.init)
        XCTAssertEqual(failLines.count, 2, read(pings))
        XCTAssertEqual(failLines.last, "POST /ping/\(secret)/fail connect-failed (exit 3)")
        XCTAssertFalse(read(pings).contains("/srv/"), "a file name reached the ping body")
        let notified = read("\(Self.dir)/out/stdin.json").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(notified, fail.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "NOTIFY_COMMAND's stdin is not BACKUP --json")
        XCTAssertTrue(notified.contains("\"name\":\"connect-failed\""), notified)
        XCTAssertEqual(
            read("\(Self.dir)/out/uid").trimmingCharacters(in: .whitespacesAndNewlines),
            SrvShell.run(["/usr/bin/id", "-u", H.localUser]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(read("\(Self.dir)/out/status"), "connect-failed 3\n")

        // The listener down: the backup's status is what it is without a healthcheck.
        listener.signal(SIGTERM)
        listener.wait()
        h.writeServerConfig(["HEALTHCHECK_URL": url], to: conf)
        let down = SrvShell.run(serverArgv(conf))
        XCTAssertEqual(down.status, 0, down.stderr)
        XCTAssertTrue(down.stderr.contains("healthcheck success ping to 127.0.0.1 failed: could not connect"), down.stderr)
        XCTAssertFalse(down.stderr.contains(secret))
    }

    /// NOTIFY_COMMAND runs as LOCAL_USER, who owns every repository: a root-owned program in a
    /// directory another account owns (or reached through a symlink that account planted) is
    /// one that account can swap, so it must not run. Before the fix only the file's own owner
    /// and mode were judged (stat through symlinks), and both ran.
    func testNotifyCommandInADirectoryAnotherAccountOwnsIsNotRun() throws {
        let h = try H.get()
        SrvShell.sh(
            "rm -rf \(Self.dir) && install -d -m 0755 \(Self.dir) && install -d -m 0700 -o \(H.localUser) \(Self.dir)/out"
                + " && install -d -m 0755 -o nobody \(Self.dir)/nobodys")
        let marker = "\(Self.dir)/out/ran"
        h.write("\(Self.dir)/nobodys/notify.sh", "#!/bin/sh\ncat >/dev/null\necho ran >> \(marker)\n", mode: 0o755)
        h.write("\(Self.dir)/real.sh", "#!/bin/sh\ncat >/dev/null\necho ran >> \(marker)\n", mode: 0o755)
        SrvShell.sh("ln -s \(Self.dir)/real.sh \(Self.dir)/nobodys/link.sh && chown -h nobody \(Self.dir)/nobodys/link.sh")
        let conf = "\(Self.dir)/n.conf"
        for program in ["\(Self.dir)/nobodys/notify.sh", "\(Self.dir)/nobodys/link.sh"] {
            h.writeServerConfig(["NOTIFY_COMMAND": program, "SSH_PORT": String(SrvShell.freePort())], to: conf)
            let fail = SrvShell.run(serverArgv(conf))
            XCTAssertEqual(fail.status, 3, fail.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "NOTIFY_COMMAND \(program) ran: \(fail.stderr)")
            XCTAssertTrue(fail.stderr.contains("not run, nobody was notified"), fail.stderr)
            _ = try? FileManager.default.removeItem(atPath: marker)
        }
        // The same script in root's directory still runs.
        h.writeServerConfig(["NOTIFY_COMMAND": "\(Self.dir)/real.sh", "SSH_PORT": String(SrvShell.freePort())], to: conf)
        let ok = SrvShell.run(serverArgv(conf))
        XCTAssertEqual(ok.status, 3, ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), ok.stderr)
    }

    // MARK: MAX_CONCURRENT

    static let clients = (1...6).map { "bpt-fo\($0)" }
    static let runner = "bpt-forun"

    /// Six clients (ssh users bpt-fo1..6, each with its config, state, socket and repository)
    /// behind one more sshd whose Match block takes each user's config dir from `$USER`.
    func setUpFleet(_ h: ServerHarness) throws -> (sshd: SrvShell.Background, port: Int) {
        let port = SrvShell.freePort()
        let users = Self.clients
        var script = "set -e\nrm -rf \(Self.dir) && install -d -m 0755 \(Self.dir)\n"
        for u in users {
            script += "id -u \(u) >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/\(u) --shell /bin/bash \(u)\nusermod -p '*' \(u)\n"
        }
        script += """
            id -u \(Self.runner) >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin \(Self.runner)
            usermod -G \(users.joined(separator: ",")) \(Self.runner)
            ssh-keygen -q -t ed25519 -N '' -f \(Self.dir)/host_key
            echo "[127.0.0.1]:\(port) $(cut -d' ' -f1,2 \(Self.dir)/host_key.pub)" > \(Self.dir)/known_hosts
            install -m 0644 \(H.home)/.ssh/id_ed25519.pub \(Self.dir)/keys
            : > /etc/sudoers.d/bpt-fleet
            """ + "\n"
        for (i, u) in users.enumerated() {
            script += """
                echo '\(u) ALL=(root) NOPASSWD: \(H.bin)/borgpull-client -c \(Self.dir)/\(u) BACKUP' >> /etc/sudoers.d/bpt-fleet
                install -d -m 0700 \(Self.dir)/\(u)
                rm -rf \(H.home)/fo\(i + 1) /run/\(u)
                """ + "\n"
        }
        script += "chmod 0440 /etc/sudoers.d/bpt-fleet && visudo -cf /etc/sudoers.d/bpt-fleet >/dev/null\n"
        let s = SrvShell.sh(script)
        guard s.status == 0 else { throw NSError(domain: "Fleet", code: 1, userInfo: [NSLocalizedDescriptionKey: s.stderr]) }
        for (i, u) in users.enumerated() {
            let n = i + 1
            h.write(
                "\(Self.dir)/\(u)/borg_env",
                """
                export BORG_REPO="ssh://backup-server\(H.home)/fo\(n)"
                export BORG_PASSPHRASE='\(H.passphrase)'
                BACKUP_SOCKET="/run/\(u)/c.socket"
                BORG_BACKUP_USER="\(u)"
                RUNNER_USER="\(Self.runner)"
                SECCOMP_POLICY="\(ClientFixture.policy)"
                STATE_DIR="\(Self.dir)/\(u).state"
                RESULT_FILE="\(Self.dir)/\(u).state/last-backup.json"
                ARCHIVE_PREFIX="fo\(n)"
                LOCK_WAIT=30
                \(TestBorg.isDefault ? "" : TestBorg.envLine)
                """, mode: 0o600)
            h.write("\(Self.dir)/\(u)/borg_paths", "\(H.data)\n", mode: 0o600)
            let setup = SrvShell.run(["\(H.bin)/borgpull-client", "-c", "\(Self.dir)/\(u)", "SETUP"])
            XCTAssertEqual(setup.status, 0, "SETUP \(u): \(setup.stderr)")
            h.writeServerConfig(
                [
                    "REPO_NAME": "fo\(n)", "REPO_DIR": "\(H.home)/fo\(n)", "REMOTE_USER": u,
                    "REMOTE_SOCKET_PATH": "/run/\(u)/c.socket", "SSH_PORT": String(port),
                    "SSH_KNOWN_HOSTS": "\(Self.dir)/known_hosts", "CONNECT_TIMEOUT": "10"
                ], to: "\(Self.dir)/\(u).conf")
        }
        // Six repositories, initialised locally as LOCAL_USER (in parallel).
        let inits = try (1...6).map { n in
            try SrvShell.start(
                [
                    "/usr/bin/setpriv", "--reuid=\(H.localUser)", "--regid=\(H.localUser)", "--init-groups", "--",
                    "/usr/bin/env", "-i", "HOME=\(H.home)", "PATH=/usr/bin:/bin", "BORG_PASSPHRASE=\(H.passphrase)",
                    TestBorg.binary, "init", "--encryption=repokey-blake2", "\(H.home)/fo\(n)"
                ], log: "\(Self.dir)/init\(n).log")
        }
        for (n, p) in inits.enumerated() { XCTAssertEqual(p.wait(), 0, read("\(Self.dir)/init\(n + 1).log")) }

        // sshd runs the ForceCommand through the user's shell, which expands $USER.
        let lines = try H.sshdPolicyLines(
            matchUser: "bpt-fo?", authorizedKeysFile: "\(Self.dir)/keys",
            forceCommand:
                "\(H.bin)/borgpull-client trigger --via sudo-client --client \(H.bin)/borgpull-client --configs \(Self.dir)/$USER --result \(Self.dir)/$USER.state/last-backup.json"
        )
        try """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(Self.dir)/host_key
        PidFile \(Self.dir)/sshd.pid
        UsePAM no
        AllowTcpForwarding no
        MaxStartups 20
        \(lines.joined(separator: "\n"))
        """.write(toFile: "\(Self.dir)/sshd_config", atomically: true, encoding: .utf8)
        let sshd = try SrvShell.start(["/usr/sbin/sshd", "-f", "\(Self.dir)/sshd_config", "-D", "-e"], log: "\(Self.dir)/sshd.log")
        XCTAssertTrue(
            SrvShell.waitFor(10) {
                SrvShell.run(["/usr/bin/python3", "-c", "import socket;socket.create_connection(('127.0.0.1',\(port)),1)"]).status == 0
            }, "fleet sshd did not start")
        return (sshd, port)
    }

    /// `borg serve` processes below `roots` (by the parent links in /proc): only this test's.
    /// - Returns: how many there are, and how many of the roots (runs) have at least one. One
    ///   run may show two for a moment: socat starts the next command's `borg serve` (prune
    ///   after create) while the previous one is still exiting.
    func borgServes(below roots: Set<pid_t>) -> (processes: Int, runs: Int) {
        var parent: [pid_t: pid_t] = [:]
        var serve: [pid_t] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name) else { continue }
            let stat = read("/proc/\(name)/stat")
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let pp = pid_t(fields[1]) { parent[pid] = pp }
            let cmd = read("/proc/\(name)/cmdline").split(separator: "\0").map(String.init)
            if cmd.contains("serve") && cmd.contains("--restrict-to-repository") { serve.append(pid) }
        }
        let owners = serve.compactMap { p -> pid_t? in
            var q = p
            for _ in 0..<64 {
                guard let pp = parent[q], pp > 1 else { return nil }
                if roots.contains(pp) { return pp }
                q = pp
            }
            return nil
        }
        return (owners.count, Set(owners).count)
    }

    func testMaxConcurrentSixBackupsAndSigkillFreesSlot() throws {
        let h = try H.get()
        let (sshd, _) = try setUpFleet(h)
        defer {
            sshd.signal(SIGTERM)
            sshd.wait()
            unlink("/etc/sudoers.d/bpt-fleet")
        }
        let slots = "/run/bpt-fleet-slots-\(getpid())"
        defer { SrvShell.sh("rm -rf \(slots)") }
        h.write("\(Self.dir)/defaults.conf", "MAX_CONCURRENT=2\nSLOT_DIR=\(slots)\nSLOT_WAIT_TIMEOUT=300\n", mode: 0o644)

        let runs = try Self.clients.map { u in
            try SrvShell.start(serverArgv("\(Self.dir)/\(u).conf", defaults: "\(Self.dir)/defaults.conf"), log: "\(Self.dir)/\(u).log")
        }
        let roots = Set(runs.map(\.pid))
        var most = 0, mostProcesses = 0
        while runs.contains(where: \.isRunning) {
            let seen = borgServes(below: roots)
            most = max(most, seen.runs)
            mostProcesses = max(mostProcesses, seen.processes)
            usleep(50_000)
        }
        for (u, r) in zip(Self.clients, runs) {
            XCTAssertEqual(r.wait(), 0, "\(u): \(read("\(Self.dir)/\(u).log"))")
        }
        print("FleetOperationsTests: at most \(most) BACKUPs with a borg serve at once, \(mostProcesses) borg serve processes (MAX_CONCURRENT=2)")
        XCTAssertLessThanOrEqual(most, 2, "more than MAX_CONCURRENT=2 BACKUPs had a borg serve at once")
        XCTAssertGreaterThanOrEqual(most, 1, "the sampling never saw a borg serve")
        let waited = Self.clients.filter { read("\(Self.dir)/\($0).log").contains("concurrency slots (MAX_CONCURRENT=2) are taken") }
        XCTAssertFalse(waited.isEmpty, "no BACKUP waited for a slot")
        for u in Self.clients { XCTAssertTrue(SrvShell.waitFor(60) { SrvShell.sh("pgrep -f '[/]borgpull-client -c \(Self.dir)/\(u) BACKUP'").status != 0 }) }

        // One slot; its holder is SIGKILLed mid-run; the next BACKUP gets the slot at once.
        h.write("\(Self.dir)/defaults.conf", "MAX_CONCURRENT=1\nSLOT_DIR=\(slots)\nSLOT_WAIT_TIMEOUT=300\n", mode: 0o644)
        let holder = try SrvShell.start(serverArgv("\(Self.dir)/bpt-fo1.conf", defaults: "\(Self.dir)/defaults.conf"), log: "\(Self.dir)/holder.log")
        XCTAssertTrue(SrvShell.waitFor(30) { read("\(Self.dir)/holder.log").contains("BACKUP fo1:") }, read("\(Self.dir)/holder.log"))
        kill(holder.pid, SIGKILL)
        XCTAssertEqual(holder.wait(), 128 + SIGKILL)
        let next = SrvShell.run(serverArgv("\(Self.dir)/bpt-fo2.conf", defaults: "\(Self.dir)/defaults.conf"))
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertFalse(next.stderr.contains("are taken"), "the SIGKILLed BACKUP's slot was not free: \(next.stderr)")
        XCTAssertTrue(SrvShell.waitFor(60) { SrvShell.sh("pgrep -f '[/]borgpull-client -c \(Self.dir)/bpt-fo1 BACKUP'").status != 0 })
    }
}
