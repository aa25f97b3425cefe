import Foundation
import XCTest

/// A client configuration, a repository and a stand-in for sshd's forwarded socket:
/// `socat UNIX-LISTEN` running as the ssh user, serving `borg serve`, as the server does (the diagram at the top of README).
final class ClientFixture {
    static let sshUser = "bptest-ssh"
    static let otherUser = "bptest-other"
    /// borg's runner: its own account, in the ssh user's group (SECURITY.md, "Runner and socket").
    static let runnerUser = "bptest-runner"
    /// The repository's own policy, staged root-owned (the checkout may live under /tmp).
    static let policy = Staged.file("policy/seccomp/borg.policy")
    static let passphrase = #"a b$c#d'e"f"#

    let root: String
    let conf: String
    let data: String
    let repo: String
    let state: String
    let socketDir: String
    let socket: String
    var server: Process?

    init() throws {
        try Prerequisites.requireRoot()
        try Prerequisites.requireTools(["borg", "socat", "setpriv"])
        Shell.ensureUser(ClientFixture.sshUser)
        Shell.ensureUser(ClientFixture.otherUser)
        Shell.ensureUser(ClientFixture.runnerUser)
        Shell.run(["usermod", "-a", "-G", ClientFixture.sshUser, ClientFixture.runnerUser])
        let id = UUID().uuidString.prefix(8).lowercased()
        // Not under /tmp: the config audit (rightly) refuses world-writable parents.
        Shell.sh("mkdir -p -m 0755 /var/lib/borgpull-test && chmod 0755 /var/lib/borgpull-test")
        root = "/var/lib/borgpull-test/\(id)"
        conf = "\(root)/conf"
        data = "\(root)/data"
        repo = "\(root)/repo"
        state = "\(root)/state"
        socketDir = "/run/bptest-\(id)"
        socket = "\(socketDir)/client.socket"
        Shell.sh(
            """
            set -e
            mkdir -m 0755 \(root) && mkdir -m 0700 \(conf) && mkdir -m 0755 \(data)
            mkdir -m 0700 \(repo) && chown \(ClientFixture.sshUser): \(repo)
            mkdir -m 0710 \(socketDir) && chown \(ClientFixture.sshUser): \(socketDir)
            # a symlink: borg 1.4 reads its ACL with lgetxattr (the seccomp policy must allow it)
            printf 'hello\\n' > \(data)/hello.txt
            ln -s hello.txt \(data)/link
            head -c 300000 /dev/urandom > \(data)/random.bin
            install -m 0600 /dev/null \(data)/root-only.txt && echo secret > \(data)/root-only.txt
            """)
        writeEnv()
        write("borg_paths", "# what to back up\n\(data)\n")
    }

    deinit {
        stopServer()
        Shell.sh("rm -rf \(root) \(socketDir)")
    }

    /// borg_env: the seed's shape plus `extra` lines.
    func writeEnv(_ extra: String = "") {
        write(
            "borg_env",
            """
            export BORG_BACKUP_USER="\(ClientFixture.sshUser)"
            export BORG_REPO="ssh://backup-server\(repo)"
            export BORG_PASSPHRASE='a b$c#d'"'"'e"f'
            export BACKUP_SOCKET="\(socket)"
            export BORG_RSH="sh -c \\"exec socat STDIO UNIX-CONNECT:${BACKUP_SOCKET}\\""
            RUNNER_USER=\(ClientFixture.runnerUser)
            SECCOMP_POLICY=\(ClientFixture.policy)
            STATE_DIR="\(state)"
            \(TestBorg.isDefault ? "" : TestBorg.envLine + "\n")\(extra)
            """, mode: 0o600)
    }

    func write(_ name: String, _ text: String, mode: Int = 0o600) {
        let path = "\(conf)/\(name)"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), path)
        chmod(path, mode_t(mode))
    }

    /// Pre/post hooks that leave marker files, so a test can see what ran.
    func installHooks(pre: String = "exit 0", post: String = "exit 0") {
        write("borg_hook_pre", "#!/bin/sh\necho pre ran\ntouch \(root)/pre.ran\n\(pre)\n", mode: 0o700)
        write("borg_hook_post", "#!/bin/sh\necho \"post ran: $BORGPULL_STATUS\"\necho \"$BORGPULL_STATUS\" > \(root)/post.ran\n\(post)\n", mode: 0o700)
    }

    func ran(_ hook: String) -> Bool { FileManager.default.fileExists(atPath: "\(root)/\(hook).ran") }
    func clearMarkers() { Shell.sh("rm -f \(root)/pre.ran \(root)/post.ran") }

    /// Starts the stand-in for sshd's forwarded socket, as `user`, and waits until it accepts.
    func startServer(as user: String = ClientFixture.sshUser) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = [
            "--reuid", user, "--regid", user, "--init-groups", "socat",
            "UNIX-LISTEN:\(socket),fork,umask=0117",
            "EXEC:\(TestBorg.binary) serve --restrict-to-repository \(repo)"
        ]
        p.environment = ["PATH": "/usr/bin:/bin", "HOME": "/var/lib/borgpull-test", "LANG": "C.UTF-8"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        server = p
        for _ in 0..<100 {
            if Shell.run(["socat", "-u", "OPEN:/dev/null", "UNIX-CONNECT:\(socket)"]).status == 0 { return }
            usleep(50_000)
        }
        XCTFail("socat did not start listening on \(socket)")
    }

    /// Stops the stand-in and every `borg serve` it forked. With `leaveSocket` (SIGKILL) the
    /// socket file stays behind, as after a dead ssh session.
    func stopServer(leaveSocket: Bool = false) {
        guard let p = server else { return }
        kill(p.processIdentifier, leaveSocket ? SIGKILL : SIGTERM)
        p.waitUntilExit()
        Shell.sh("pkill -f 'borg serve --restrict-to-repository \(repo)' || true")
        server = nil
    }

    @discardableResult
    func client(_ args: [String]) -> Shell.Output {
        Shell.run([Shell.product("borgpull-client"), "-c", conf] + args, env: ["PATH": "/usr/bin:/bin"])
    }

    /// A FIFO among the paths and `--read-special`: `borg create` blocks reading it until it is
    /// signalled, which gives a test a BACKUP that is mid-create for as long as it needs.
    func blockBorgCreate() {
        Shell.sh("mkfifo -m 0600 \(data)/fifo")
        write("borg_options_create", "--read-special\n")
    }

    /// Starts BACKUP in the background and returns once its `borg create` runs (then waits
    /// `settle` more seconds). Use after `blockBorgCreate()`.
    func startBackupInBackground(stderr: Pipe? = nil, settle: UInt32 = 1) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Shell.product("borgpull-client"))
        p.arguments = ["-c", conf, "BACKUP"]
        if let stderr { p.standardError = stderr } else { p.standardError = FileHandle.nullDevice }
        try p.run()
        var waited = 0
        while ClientFixture.borgCreates(of: p.processIdentifier).isEmpty && waited < 150 {
            usleep(100_000); waited += 1
        }
        sleep(settle)
        return p
    }

    /// The `borg create --json` processes of the BACKUP `client` (a pid a test started): its
    /// descendants only, never a concurrent run's borg.
    static func borgCreates(of client: pid_t) -> [pid_t] { ProcessTree.find(under: client, TestBorg.isCreate) }

    func initRepository() throws {
        let r = client(["borg", "init", "--encryption=repokey-blake2"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Archive names, read through the tunnel with the client's own config.
    func archives() -> [String] {
        let r = client(["borg", "list", "--short"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func record() -> [String: Any]? {
        guard let d = FileManager.default.contents(atPath: "\(state)/results/last-backup.json") else { return nil }
        return try? JSONSerialization.jsonObject(with: d) as? [String: Any]
    }

    func step(_ name: String) -> [String: Any]? {
        (record()?["steps"] as? [[String: Any]])?.first { $0["name"] as? String == name }
    }
}
