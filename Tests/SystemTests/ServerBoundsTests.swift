import Foundation
import XCTest

/// A hostile client against the real server: a real sshd on 127.0.0.1 whose ForceCommand floods
/// ssh's stderr or stdout instead of running `borgpull-client trigger`. borgpull-server must
/// stay small (its peak RSS is read from the kernel), end with a clear failure and not crash.
/// Needs root, sshd, ssh, socat, borg; unique directories, port and socket names per test.
final class ServerBoundsTests: XCTestCase {
    var dir = ""
    var runDir = ""
    var port = 0
    var sshd: SrvShell.Background?

    /// What ssh and the client side push through in each flood: far more than the bounds.
    static let floodBytes = 300_000_000
    /// Peak RSS borgpull-server may reach (debug build: about 20 MiB at rest).
    static let rssLimitKiB = 64 << 10

    override func setUpWithError() throws {
        if getuid() != 0 { try SrvShell.unmet("needs root (sshd, root's ssh login)") }
        for t in ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen", "/usr/bin/socat", "/usr/bin/borg"]
        where !FileManager.default.isExecutableFile(atPath: t) {
            try SrvShell.unmet("needs \(t)")
        }
        guard FileManager.default.isExecutableFile(atPath: Shell.product("borgpull-server")) else {
            return try SrvShell.unmet("build first: \(Shell.product("borgpull-server")) is missing")
        }
        let id = UUID().uuidString.prefix(8).lowercased()
        dir = "/var/lib/borgpull-test/hostile-\(id)"
        runDir = "/run/bp-hostile-\(id)"
        port = SrvShell.freePort()
        let setup = SrvShell.sh(
            """
            set -e
            install -d -m 0755 /var/lib/borgpull-test
            install -d -m 0700 \(dir) \(runDir)
            mkdir -p -m 0755 /run/sshd
            ssh-keygen -q -t ed25519 -N '' -f \(dir)/host_key
            ssh-keygen -q -t ed25519 -N '' -C bp-hostile -f \(dir)/id
            cp \(dir)/id.pub \(dir)/authorized_keys
            echo "[127.0.0.1]:\(port) $(cut -d' ' -f1,2 \(dir)/host_key.pub)" > \(dir)/known_hosts
            env -i PATH=/usr/bin:/bin HOME=\(dir) BORG_BASE_DIR=\(dir)/base BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes \
                /usr/bin/borg init --encryption=none \(dir)/repo
            cat > \(dir)/sshd_config <<EOC
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(dir)/host_key
            PidFile \(dir)/sshd.pid
            UsePAM no
            StrictModes no
            PermitRootLogin prohibit-password
            AuthorizedKeysFile \(dir)/authorized_keys
            AllowStreamLocalForwarding remote
            StreamLocalBindUnlink yes
            PermitTTY no
            ForceCommand /bin/sh \(dir)/hostile.sh
            EOC
            cat > \(dir)/server.conf <<EOC
            LOCAL_USER=root
            REMOTE_USER=root
            REMOTE_HOST=127.0.0.1
            REPO_NAME=hostile
            REPO_DIR=\(dir)/repo
            RUN_DIR=\(runDir)
            SOCKET_PATH=\(runDir)/s.socket
            REMOTE_SOCKET_PATH=\(runDir)/c.socket
            SSH_PORT=\(port)
            SSH_IDENTITY=\(dir)/id
            SSH_KNOWN_HOSTS=\(dir)/known_hosts
            CONNECT_TIMEOUT=5
            BACKUP_TIMEOUT=120
            EOC
            chmod 0644 \(dir)/server.conf
            """)
        XCTAssertEqual(setup.status, 0, setup.stderr)
        sshd = try SrvShell.start(["/usr/sbin/sshd", "-f", "\(dir)/sshd_config", "-D", "-e"], log: "\(dir)/sshd.log")
        let up = SrvShell.waitFor(10) {
            SrvShell.run(["/usr/bin/python3", "-c", "import socket;socket.create_connection(('127.0.0.1',\(port)),1)"]).status == 0
        }
        XCTAssertTrue(up, "sshd did not start: \((try? String(contentsOfFile: "\(dir)/sshd.log", encoding: .utf8)) ?? "")")
    }

    override func tearDown() {
        if let s = sshd { s.signal(SIGTERM); s.wait() }
        if !dir.isEmpty { SrvShell.sh("rm -rf \(dir) \(runDir)") }
    }

    struct Run {
        var status: Int32
        var output: String
        /// borgpull-server's VmHWM (/proc/PID/status), last read before it ended.
        var vmHWMKiB: Int
        /// wait4(2) ru_maxrss: the largest peak of borgpull-server and the children it reaped.
        /// Reported, not asserted: posix_spawn(3) starts the server with CLONE_VM, so until its
        /// exec the child counts the test process's own pages (76 MB after a long test run,
        /// 31 MB alone); the server's own peak is VmHWM.
        var maxRSSKiB: Int
        var seconds: Double
    }

    /// Runs `borgpull-server BACKUP` against a client whose ForceCommand is `script`. After
    /// `limit` seconds it gets SIGTERM (its cleanup stops ssh and socat), SIGKILL 10 s later: a
    /// hung or runaway server fails the test, not CI.
    func backup(clientScript script: String, limit: Double = 60) throws -> Run {
        try script.write(toFile: "\(dir)/hostile.sh", atomically: true, encoding: .utf8)
        let log = "\(dir)/server.log"
        guard
            let pid = SrvShell.spawn(
                [Shell.product("borgpull-server"), "-c", "\(dir)/server.conf", "BACKUP"],
                stdout: log, stderr: log)
        else { throw XCTSkip("cannot start borgpull-server") }
        let t0 = Date()
        var hwm = 0
        var usage = rusage()
        var status: Int32 = 0
        var termSent: Date?
        while true {
            if let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
            {
                hwm = max(hwm, kib)
            }
            if wait4(pid, &status, WNOHANG, &usage) == pid { break }
            if termSent == nil && Date().timeIntervalSince(t0) > limit {
                XCTFail("borgpull-server did not end within \(Int(limit)) s (stopped; VmHWM \(hwm) KiB)")
                kill(pid, SIGTERM)
                termSent = Date()
            }
            if let t = termSent, Date().timeIntervalSince(t) > 10 {
                kill(pid, SIGKILL)
                _ = wait4(pid, &status, 0, &usage)
                break
            }
            usleep(20_000)
        }
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let out = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return Run(status: code, output: out, vmHWMKiB: hwm, maxRSSKiB: usage.ru_maxrss, seconds: Date().timeIntervalSince(t0))
    }

    func report(_ name: String, _ r: Run) {
        print(
            "ServerBoundsTests \(name): exit \(r.status) in \(String(format: "%.1f", r.seconds)) s, borgpull-server VmHWM \(r.vmHWMKiB) KiB, ru_maxrss \(r.maxRSSKiB) KiB"
        )
    }

    func testStderrWithoutNewlineIsCutAndTheServerStaysSmall() throws {
        let r = try backup(
            clientScript: """
                head -c \(Self.floodBytes) /dev/zero | tr '\\000' x >&2
                echo ' the end' >&2
                exit 2
                """)
        report("stderr flood", r)
        XCTAssertLessThan(r.vmHWMKiB, Self.rssLimitKiB, "borgpull-server grew with the client's stderr")
        XCTAssertTrue([2, 8].contains(r.status), "exit \(r.status): \(r.output.suffix(2000))")
        let cut = r.output.split(separator: "\n").filter { $0.contains("bytes cut]") }
        XCTAssertEqual(cut.count, 1, "the flood is one line, cut once: \(r.output.suffix(500))")
        XCTAssertLessThan(cut.first?.utf8.count ?? 0, 9000, "the cut line is about 8 KiB")
        XCTAssertTrue(
            cut.first?.hasSuffix(" … [\(Self.floodBytes + " the end".utf8.count - (8 << 10)) bytes cut]") ?? false,
            String(cut.first?.suffix(60) ?? ""))
        XCTAssertTrue(
            r.output.contains("borgpull-server: client-backup-failed (exit 2)") || r.output.contains("borgpull-server: no-result (exit 8)"),
            String(r.output.suffix(1000)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(runDir)/s.socket"), "server socket left behind")
    }

    func testHugeStdoutIsRefusedAsARecordAndSshIsStopped() throws {
        let r = try backup(
            clientScript: """
                head -c \(Self.floodBytes) /dev/zero | tr '\\000' '{'
                exit 0
                """)
        report("stdout flood", r)
        XCTAssertLessThan(r.vmHWMKiB, Self.rssLimitKiB, "borgpull-server grew with the client's stdout")
        XCTAssertEqual(r.status, 8, String(r.output.suffix(1000)))
        XCTAssertTrue(r.output.contains("more than 4 MiB on ssh's stdout"), String(r.output.suffix(1000)))
        XCTAssertLessThan(r.seconds, 20, "ssh was not stopped at the limit")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(runDir)/s.socket"), "server socket left behind")
    }
}
