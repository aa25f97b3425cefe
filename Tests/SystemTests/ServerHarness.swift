import Foundation
import XCTest

/// Commands for the server system tests (names kept apart from other engineers' helpers).
enum SrvShell {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    static var requireSystemTests: Bool { ProcessInfo.processInfo.environment["BORGPULL_REQUIRE_SYSTEM_TESTS"] == "1" }

    /// Skips locally, fails under BORGPULL_REQUIRE_SYSTEM_TESTS=1.
    static func unmet(_ why: String, file: StaticString = #filePath, line: UInt = #line) throws {
        if requireSystemTests {
            XCTFail("prerequisite missing (BORGPULL_REQUIRE_SYSTEM_TESTS=1): \(why)", file: file, line: line)
        }
        throw XCTSkip(why)
    }

    /// posix_spawn + waitpid (Foundation's Process did not always reap its children here).
    static func spawn(_ argv: [String], stdout: String, stderr: String) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if stderr == stdout {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
        var cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgv { free(p) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, &attr, &cArgv, environ) == 0 else { return nil }
        return pid
    }

    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    @discardableResult
    static func run(_ argv: [String]) -> Output {
        let base = "/var/tmp/bps-\(UUID().uuidString)"
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        let t0 = Date()
        guard let pid = spawn(argv, stdout: base + ".out", stderr: base + ".err") else {
            return Output(status: 127, stdout: "", stderr: "cannot run \(argv[0])", seconds: 0)
        }
        let status = wait(pid)
        let o = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let e = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        return Output(status: status, stdout: o, stderr: e, seconds: Date().timeIntervalSince(t0))
    }

    @discardableResult
    static func sh(_ script: String) -> Output { run(["/bin/sh", "-c", script]) }

    /// A background process; its output goes to `log`.
    final class Background {
        let pid: pid_t
        var status: Int32?
        init(pid: pid_t) { self.pid = pid }

        var isRunning: Bool {
            if status != nil { return false }
            var st: Int32 = 0
            let r = waitpid(pid, &st, WNOHANG)
            if r == pid { status = st & 0x7f == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f); return false }
            return r == 0
        }

        func signal(_ s: Int32) { if isRunning { kill(pid, s) } }

        @discardableResult
        func wait() -> Int32 {
            if let s = status { return s }
            let s = SrvShell.wait(pid)
            status = s
            return s
        }
    }

    static func start(_ argv: [String], log: String) throws -> Background {
        guard let pid = spawn(argv, stdout: log, stderr: log) else {
            throw NSError(domain: "SrvShell", code: 1, userInfo: [NSLocalizedDescriptionKey: "cannot start \(argv[0])"])
        }
        return Background(pid: pid)
    }

    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    static func freePort() -> Int {
        let o = run(["/usr/bin/python3", "-c", "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"])
        return Int(o.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 22022
    }
}

/// A backup server and a backup client on this machine, talking through a real sshd on
/// 127.0.0.1 that uses policy/sshd/borgpull.conf (user name and paths substituted).
///
/// Layout (root-owned parents, so the client's config audit passes):
///   /srv/bpt/bin           borgpull-client, borgpull-server (copies of the build)
///   /srv/bpt/client        client config dir (borg_env 0600, borg_paths, hooks)
///   /srv/bpt/data          what is backed up
///   /srv/bpt/sshd          sshd_config, host key, authorized keys
///   /srv/bpt/server.conf   server config
///   /var/lib/bpt-srv       LOCAL_USER's home: ssh key, known_hosts, repo/
final class ServerHarness {
    static let localUser = "bpt-srv"
    static let sshUser = "bpt-ssh"
    static let runnerUser = "bpt-run"
    static let passphrase = "correct horse battery staple"

    static let root = "/srv/bpt"
    static let bin = "\(root)/bin"
    static let clientDir = "\(root)/client"
    static let data = "\(root)/data"
    static let sshdDir = "\(root)/sshd"
    static let serverConf = "\(root)/server.conf"
    static let state = "\(root)/state"
    static let home = "/var/lib/\(localUser)"
    static let repo = "\(home)/repo"
    static let runDir = "/run/bpt-srv"
    static let clientSocketDir = "/run/bpt-client"
    static let clientSocket = "\(clientSocketDir)/c.socket"
    static let resultFile = "\(state)/last-backup.json"

    let port: Int
    var sshd: SrvShell.Background?

    /// Repository root of this package (two levels above this file).
    static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var buildBin: String { packageRoot + "/.build/debug" }

    /// The shared harness: set up once per test process.
    nonisolated(unsafe) static var shared: ServerHarness?

    static func get(file: StaticString = #filePath, line: UInt = #line) throws -> ServerHarness {
        if getuid() != 0 { try SrvShell.unmet("needs root (users, sshd, sudoers)", file: file, line: line) }
        for t in ["/usr/sbin/sshd", "/usr/bin/socat", TestBorg.binary, "/usr/bin/setpriv", "/usr/bin/sudo", "/usr/bin/ssh-keygen"]
        where !FileManager.default.isExecutableFile(atPath: t) {
            try SrvShell.unmet("needs \(t)", file: file, line: line)
        }
        for b in ["borgpull-client", "borgpull-server"] where !FileManager.default.isExecutableFile(atPath: "\(buildBin)/\(b)") {
            try SrvShell.unmet("build first: \(buildBin)/\(b) is missing", file: file, line: line)
        }
        if let h = shared { return h }
        lockMachine()
        let h = try ServerHarness()
        shared = h
        return h
    }

    /// The harness's users, paths and sudoers file are fixed names, so only one test process
    /// on this machine may hold it: a second test run waits here (flock(2)) until the first
    /// one's `shutdown()`, instead of colliding with it.
    nonisolated(unsafe) static var machineLock: Int32 = -1

    static func lockMachine() {
        guard machineLock < 0 else { return }
        let fd = open("/run/borgpull-server-harness.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 {
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
            machineLock = fd
        }
    }

    init() throws {
        port = SrvShell.freePort()
        let h = ServerHarness.self
        SrvShell.sh("[ -f \(h.sshdDir)/sshd.pid ] && kill $(cat \(h.sshdDir)/sshd.pid) 2>/dev/null; true")
        let setup = SrvShell.sh(
            """
            set -e
            id -u \(h.localUser) >/dev/null 2>&1 || useradd --system --create-home --home-dir \(h.home) --shell /usr/sbin/nologin \(h.localUser)
            id -u \(h.sshUser) >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/\(h.sshUser) --shell /bin/bash \(h.sshUser)
            usermod -p '*' \(h.sshUser)
            id -u \(h.runnerUser) >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin -G \(h.sshUser) \(h.runnerUser)
            rm -rf \(h.root) \(h.repo) \(h.runDir) \(h.clientSocketDir)
            install -d -m 0755 \(h.root) \(h.bin) \(h.data) \(h.sshdDir)
            install -d -m 0700 \(h.clientDir)
            install -m 0755 \(h.buildBin)/borgpull-client \(h.buildBin)/borgpull-server \(h.bin)/
            mkdir -p -m 0755 /run/sshd
            # sshd host key, server user key, known_hosts, authorized keys
            ssh-keygen -q -t ed25519 -N '' -f \(h.sshdDir)/host_key
            install -d -m 0700 -o \(h.localUser) -g \(h.localUser) \(h.home)/.ssh
            rm -f \(h.home)/.ssh/id_ed25519 \(h.home)/.ssh/id_ed25519.pub
            ssh-keygen -q -t ed25519 -N '' -C bpt-server -f \(h.home)/.ssh/id_ed25519
            chown \(h.localUser): \(h.home)/.ssh/id_ed25519 \(h.home)/.ssh/id_ed25519.pub
            echo "[127.0.0.1]:\(port) $(cut -d' ' -f1,2 \(h.sshdDir)/host_key.pub)" > \(h.home)/.ssh/known_hosts
            chown \(h.localUser): \(h.home)/.ssh/known_hosts
            install -d -m 0750 -o root -g \(h.sshUser) \(h.sshdDir)/authorized_keys
            install -m 0640 -o root -g \(h.sshUser) \(h.home)/.ssh/id_ed25519.pub \(h.sshdDir)/authorized_keys/keys
            # the trigger may run exactly one command as root
            echo '\(h.sshUser) ALL=(root) NOPASSWD: \(h.bin)/borgpull-client -c \(h.clientDir) BACKUP' > /etc/sudoers.d/bpt-test
            chmod 0440 /etc/sudoers.d/bpt-test
            visudo -cf /etc/sudoers.d/bpt-test >/dev/null
            # data: text, binary, a name with a blank
            printf 'hello from the client\\n' > \(h.data)/hello.txt
            head -c 2000000 /dev/urandom > \(h.data)/random.bin
            printf 'x%.0s' $(seq 1 5000) > "\(h.data)/with blank.txt"
            """)
        guard setup.status == 0 else {
            throw NSError(domain: "ServerHarness", code: 1, userInfo: [NSLocalizedDescriptionKey: "setup failed: \(setup.stdout)\(setup.stderr)"])
        }
        try writeSshdConfig()
        writeClientConfig()
        writeServerConfig()
        let s = SrvShell.run(["\(h.bin)/borgpull-client", "-c", h.clientDir, "SETUP"])
        guard s.status == 0 else {
            throw NSError(domain: "ServerHarness", code: 2, userInfo: [NSLocalizedDescriptionKey: "client SETUP failed: \(s.stderr)"])
        }
        try startSshd()
        try initRepository()
    }

    deinit { stopSshd() }

    /// Stops the shared harness's sshd (called from the test class's tearDown).
    static func shutdown() {
        shared?.stopSshd()
        shared = nil
        if machineLock >= 0 {
            close(machineLock)
            machineLock = -1
        }
    }

    /// The lines of policy/sshd/borgpull.conf with its `Match User`, `AuthorizedKeysFile` and
    /// `ForceCommand` lines replaced by the test's (the other lines as they are).
    static func sshdPolicyLines(matchUser: String, authorizedKeysFile: String, forceCommand: String) throws -> [String] {
        let policy = try String(contentsOfFile: packageRoot + "/policy/sshd/borgpull.conf", encoding: .utf8)
        return policy.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("Match User ") { return "Match User \(matchUser)" }
            if t.hasPrefix("AuthorizedKeysFile ") { return "    AuthorizedKeysFile \(authorizedKeysFile)" }
            if t.hasPrefix("ForceCommand ") { return "    ForceCommand \(forceCommand)" }
            return String(line)
        }
    }

    /// policy/sshd/borgpull.conf with the test's user, key file and ForceCommand.
    func writeSshdConfig() throws {
        let h = ServerHarness.self
        let lines = try h.sshdPolicyLines(
            matchUser: h.sshUser, authorizedKeysFile: "\(h.sshdDir)/authorized_keys/keys",
            forceCommand:
                "\(h.bin)/borgpull-client trigger --via sudo-client --client \(h.bin)/borgpull-client --configs \(h.clientDir) --result \(h.resultFile)")
        let config = """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(h.sshdDir)/host_key
            PidFile \(h.sshdDir)/sshd.pid
            UsePAM no
            AllowTcpForwarding no
            LogLevel VERBOSE
            \(lines.joined(separator: "\n"))
            """
        try config.write(toFile: "\(h.sshdDir)/sshd_config", atomically: true, encoding: .utf8)
    }

    func writeClientConfig(extra: String = "") {
        let h = ServerHarness.self
        write(
            h.clientDir + "/borg_env",
            """
            # test client
            export BORG_REPO="ssh://backup-server\(h.repo)"
            export BORG_PASSPHRASE='\(h.passphrase)'
            BACKUP_SOCKET="\(h.clientSocket)"
            BORG_BACKUP_USER="\(h.sshUser)"
            RUNNER_USER="\(h.runnerUser)"
            SECCOMP_POLICY="\(ClientFixture.policy)"
            STREAM_LOCAL_BIND_MASK=0117
            STATE_DIR="\(h.state)"
            RESULT_FILE="\(h.resultFile)"
            ARCHIVE_PREFIX="bpt"
            LOCK_WAIT=30
            \(TestBorg.isDefault ? "" : TestBorg.envLine + "\n")\(extra)
            """, mode: 0o600)
        write(h.clientDir + "/borg_paths", "\(h.data)\n", mode: 0o600)
    }

    func writeServerConfig(_ overrides: [String: String] = [:], to path: String = ServerHarness.serverConf) {
        let h = ServerHarness.self
        var keys: [(String, String)] = [
            ("LOCAL_USER", h.localUser), ("REMOTE_USER", h.sshUser), ("REMOTE_HOST", "127.0.0.1"),
            ("REPO_NAME", "bpt"), ("REPO_DIR", h.repo), ("RUN_DIR", h.runDir),
            ("SOCKET_PATH", "${RUN_DIR}/${REPO_NAME}.socket"), ("REMOTE_SOCKET_PATH", h.clientSocket),
            ("SSH_PORT", String(port)), ("SSH_IDENTITY", "\(h.home)/.ssh/id_ed25519"),
            ("SSH_KNOWN_HOSTS", "\(h.home)/.ssh/known_hosts"), ("CONNECT_TIMEOUT", "5"), ("BACKUP_TIMEOUT", "300"),
            // No metrics into this machine's node-exporter directory.
            ("PROMETHEUS_TEXTFILE_DIR", ""), ("STATE_DIR", "\(h.root)/server-state")
        ]
        if !TestBorg.isDefault { keys.append(("BORG_BINARY", TestBorg.binary)) }
        for (k, v) in overrides {
            if let i = keys.firstIndex(where: { $0.0 == k }) { keys[i].1 = v } else { keys.append((k, v)) }
        }
        write(path, keys.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: "\n") + "\n", mode: 0o644)
    }

    func write(_ path: String, _ text: String, mode: Int) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        chmod(path, mode_t(mode))
        chown(path, 0, 0)
    }

    func startSshd() throws {
        let h = ServerHarness.self
        // An sshd of an earlier, crashed test process.
        if let pid = try? String(contentsOfFile: "\(h.sshdDir)/sshd.pid", encoding: .utf8), let p = Int32(pid.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(p, SIGTERM)
        }
        let t = SrvShell.run(["/usr/sbin/sshd", "-t", "-f", "\(h.sshdDir)/sshd_config"])
        guard t.status == 0 else {
            throw NSError(domain: "ServerHarness", code: 3, userInfo: [NSLocalizedDescriptionKey: "sshd -t: \(t.stderr)"])
        }
        sshd = try SrvShell.start(["/usr/sbin/sshd", "-f", "\(h.sshdDir)/sshd_config", "-D", "-e"], log: "\(h.sshdDir)/sshd.log")
        let up = SrvShell.waitFor(10) {
            SrvShell.run(["/usr/bin/python3", "-c", "import socket;socket.create_connection(('127.0.0.1',\(port)),1)"]).status == 0
        }
        guard up else { throw NSError(domain: "ServerHarness", code: 4, userInfo: [NSLocalizedDescriptionKey: "sshd did not start"]) }
    }

    func stopSshd() {
        if let p = sshd { p.signal(SIGTERM); p.wait() }
    }

    /// The README flow: SERVE on the server, `borg init` on the client, Ctrl-C the SERVE.
    func initRepository() throws {
        let h = ServerHarness.self
        SrvShell.sh("install -d -m 0700 -o \(h.localUser) -g \(h.localUser) \(h.home)")
        let serve = try SrvShell.start(["\(h.bin)/borgpull-server", "-c", h.serverConf, "SERVE"], log: "\(h.root)/serve-init.log")
        defer {
            serve.signal(SIGINT)
            serve.wait()
        }
        guard SrvShell.waitFor(20, { isSocket(h.clientSocket) && serve.isRunning && sshConnected() }) else {
            let log = (try? String(contentsOfFile: "\(h.root)/serve-init.log", encoding: .utf8)) ?? ""
            throw NSError(domain: "ServerHarness", code: 5, userInfo: [NSLocalizedDescriptionKey: "SERVE did not forward: \(log)"])
        }
        let r = SrvShell.run(["\(h.bin)/borgpull-client", "-c", h.clientDir, "borg", "init", "--encryption=repokey-blake2"])
        guard r.status == 0 else {
            throw NSError(domain: "ServerHarness", code: 6, userInfo: [NSLocalizedDescriptionKey: "borg init via SERVE failed: \(r.stdout)\(r.stderr)"])
        }
    }

    /// An ssh of LOCAL_USER is connected and the client socket is live.
    func sshConnected() -> Bool {
        SrvShell.run(["/usr/bin/python3", "-c", "import socket;s=socket.socket(socket.AF_UNIX);s.settimeout(1);s.connect('\(ServerHarness.clientSocket)')"])
            .status == 0
    }

    func isSocket(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    func server(_ mode: String = "BACKUP", config: String = ServerHarness.serverConf, json: Bool = false) -> SrvShell.Output {
        SrvShell.run(["\(ServerHarness.bin)/borgpull-server", "-c", config] + (json ? ["--json"] : []) + [mode])
    }

    /// `borg` on the server as LOCAL_USER, directly on the repository (no tunnel).
    func localBorg(_ args: [String]) -> SrvShell.Output {
        let h = ServerHarness.self
        return SrvShell.run(
            [
                "/usr/bin/setpriv", "--reuid=\(h.localUser)", "--regid=\(h.localUser)", "--init-groups", "--",
                "/usr/bin/env", "-i", "HOME=\(h.home)", "PATH=/usr/bin:/bin", "BORG_PASSPHRASE=\(h.passphrase)",
                "BORG_RELOCATED_REPO_ACCESS_IS_OK=yes", "LANG=C.UTF-8", TestBorg.binary
            ] + args)
    }

    func archives() -> [String] {
        localBorg(["list", "--short", ServerHarness.repo]).stdout.split(separator: "\n").map(String.init)
    }

    /// Processes that must not outlive a run: socat on our socket, borg serve on our repo.
    func leftovers() -> String {
        let h = ServerHarness.self
        return SrvShell.sh("pgrep -a -f '[U]NIX-LISTEN:\(h.runDir)' ; pgrep -a -f '[r]estrict-to-repository \(h.repo)'").stdout
    }

    /// Waits until no client BACKUP of this config runs.
    func waitClientIdle(_ seconds: Double = 60) -> Bool {
        SrvShell.waitFor(seconds) {
            SrvShell.sh("pgrep -f '[/]\(ServerHarness.bin.dropFirst())/borgpull-client -c \(ServerHarness.clientDir) BACKUP'").status != 0
        }
    }
}
