import Foundation
import XCTest

@testable import BorgPullCore

/// The borg 2 spike (README "Borg 2"): does the pull tunnel carry borg 2? A real borg 2.0.0b23
/// (`BORGPULL_TEST_BORG2`, built by `.ci/borg-venv.sh 2.0.0b23`; `make test-borg2`) on both
/// sides, the server's `borg serve --rest` behind real `socat UNIX-LISTEN` as an unprivileged
/// user (the argv of `ServerPlan.socatArguments(_, profile: .borg2Beta)`), forwarded by real
/// `ssh -R` (`ServerPlan.sshArguments(_, mode: .serve)`) to a per-run sshd on 127.0.0.1 (root
/// logs in, so sshd binds the client socket as uid 0), the client's borg with `BORG_RSH` = our
/// relay (`borgpull-client relay`, SO_PEERCRED-checked), argv and environment from
/// `BorgCommands(profile: .borg2Beta)`. Not sandboxed: the product does not run borg 2.
final class Borg2TunnelTests: XCTestCase {
    static let borg2 = ProcessInfo.processInfo.environment["BORGPULL_TEST_BORG2"] ?? ""
    let passphrase = "borg2 spike passphrase"

    func testCreateListExtractThroughTunnelAndDeleteRefusedWithNoDelete() throws {
        try requireRoot()
        try Prerequisites.requireTools(["socat", "setpriv", "sshd", "ssh", "ssh-keygen"])
        try requirePrerequisite(!Self.borg2.isEmpty, "BORGPULL_TEST_BORG2 (a borg 2 binary; make test-borg2)")
        try requireExecutable(Self.borg2)
        try requireExecutable(Shell.product("borgpull-client"))
        let version = Shell.run([Self.borg2, "--version"]).stdout
        try requirePrerequisite(version.hasPrefix("borg 2."), "BORGPULL_TEST_BORG2 is not borg 2: \(version)")

        // Per run: nothing shared with another test run on this machine.
        let root = "/var/tmp/bp-borg2-\(getpid())-\(UUID().uuidString.prefix(8))"
        let nobody = Shell.uid("nobody")
        let port = SrvShell.freePort()
        defer { Shell.run(["rm", "-rf", root]) }
        let setup = Shell.sh(
            """
            set -e
            mkdir -p -m 0755 \(root) \(root)/data/sub \(root)/restore \(root)/client
            install -d -o nobody -m 0755 \(root)/srv
            install -d -o nobody -m 0700 \(root)/srv/repo \(root)/srv/home
            printf 'hello borg 2\\n' > \(root)/data/a.txt
            head -c 300000 /dev/urandom > \(root)/data/sub/b.bin
            printf '%s\\n' '\(passphrase)' > \(root)/client/pass
            chmod 0600 \(root)/client/pass
            mkdir -p -m 0700 \(root)/ssh && mkdir -p -m 0755 /run/sshd
            ssh-keygen -q -t ed25519 -N '' -f \(root)/ssh/host
            ssh-keygen -q -t ed25519 -N '' -f \(root)/ssh/id
            cp \(root)/ssh/id.pub \(root)/ssh/authorized_keys
            echo "[127.0.0.1]:\(port) $(cat \(root)/ssh/host.pub)" > \(root)/ssh/known_hosts
            cat > \(root)/ssh/sshd_config <<EOF
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(root)/ssh/host
            AuthorizedKeysFile \(root)/ssh/authorized_keys
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            AllowStreamLocalForwarding remote
            StreamLocalBindUnlink yes
            StrictModes no
            PidFile \(root)/ssh/sshd.pid
            EOF
            /usr/sbin/sshd -f \(root)/ssh/sshd_config -E \(root)/ssh/sshd.log
            """)
        XCTAssertEqual(setup.status, 0, setup.stderr)
        // sshd daemonizes: stopped by the pid it wrote, nothing else.
        defer { Shell.sh("[ -f \(root)/ssh/sshd.pid ] && kill $(cat \(root)/ssh/sshd.pid)") }

        let serverText = { (appendOnly: Bool) in
            """
            LOCAL_USER=nobody
            REMOTE_USER=root
            REMOTE_HOST=127.0.0.1
            SSH_PORT=\(port)
            SSH_IDENTITY=\(root)/ssh/id
            SSH_KNOWN_HOSTS=\(root)/ssh/known_hosts
            REPO_NAME=s
            REPO_DIR=\(root)/srv/repo
            RUN_DIR=\(root)/srv
            REMOTE_SOCKET_PATH=\(root)/client/c.socket
            BORG_BINARY=\(Self.borg2)
            APPEND_ONLY=\(appendOnly ? "yes" : "no")
            """
        }
        let client = try ClientConfig.build(
            ClientConfigInput(
                directory: "\(root)/client",
                texts: [
                    .env: """
                    BORG_REPO=ssh://server.invalid\(root)/srv/repo
                    BACKUP_SOCKET=\(root)/client/c.socket
                    BORG_BINARY=\(Self.borg2)
                    BORG_PASSCOMMAND='cat \(root)/client/pass'
                    ARCHIVE_PREFIX=spike
                    """,
                    .paths: "\(root)/data\n"
                ], hookExecutable: [:]))
        let commands = BorgCommands(
            config: client,
            relayCommand: [Shell.product("borgpull-client"), "relay", "--socket", client.socketPath, "--peer-uid", "0"],
            baseDirectory: "\(root)/client/base", profile: .borg2Beta)
        XCTAssertTrue(commands.repositoryURL.hasPrefix("rest://server.invalid/"), commands.repositoryURL)
        let env = commands.environment(passphraseFD: nil)
        func borg(_ argv: [String], in dir: String? = nil) -> Shell.Output {
            let cmd = ShellQuote.join(argv)
            return Shell.run(["/bin/sh", "-c", dir.map { "cd \(ShellQuote.quote($0)) && exec \(cmd)" } ?? "exec \(cmd)"], env: env)
        }

        // borg serve --rest behind socat, as nobody, and ssh -R to sshd; stopped by the caller.
        func serve(appendOnly: Bool) throws -> [SrvShell.Background] {
            let c = try ServerConfig.parse(serverText(appendOnly), file: "spike.conf")
            XCTAssertEqual(c.remoteSocketPath, client.socketPath)
            let gid = Shell.run(["id", "-g", "nobody"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            // posix_spawn with an empty signal mask (SrvShell), so SIGTERM stops them.
            let socat = try SrvShell.start(
                [
                    "/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=\(root)/srv/home", "LANG=C.UTF-8",
                    "/usr/bin/setpriv", "--reuid=\(nobody)", "--regid=\(gid)", "--clear-groups",
                    "/usr/bin/socat"
                ] + ServerPlan.socatArguments(c, profile: .borg2Beta),
                log: "\(root)/socat.log")
            XCTAssertTrue(SrvShell.waitFor(10) { FileManager.default.fileExists(atPath: c.socketPath) }, "socat did not listen")
            let ssh = try SrvShell.start(["/usr/bin/ssh"] + ServerPlan.sshArguments(c, mode: .serve), log: "\(root)/ssh.log")
            XCTAssertTrue(
                SrvShell.waitFor(15) { FileManager.default.fileExists(atPath: client.socketPath) || !ssh.isRunning },
                "ssh -R did not forward")
            XCTAssertTrue(ssh.isRunning, (try? String(contentsOfFile: "\(root)/ssh.log", encoding: .utf8)) ?? "")
            return [ssh, socat]
        }
        func stop(_ ps: [SrvShell.Background]) {
            for p in ps {
                p.signal(SIGTERM)
                p.wait()
            }
            unlink(client.socketPath)
        }

        // 1. repo-create needs permissions to write keys/config: a server without APPEND_ONLY.
        var server = try serve(appendOnly: false)
        let created = borg(commands.passthrough(["repo-create", "--encryption=aes256-ocb"]))
        stop(server)
        XCTAssertEqual(created.status, 0, created.stderr)

        // 2. APPEND_ONLY=yes: --permissions no-delete.
        server = try serve(appendOnly: true)
        let create = borg(commands.create(paths: [client.paths.map(\.value).first ?? ""]))
        XCTAssertEqual(create.status, 0, create.stderr)
        let list = borg(commands.passthrough(["repo-list", "--format", "{archive}{NL}"]))
        XCTAssertEqual(list.status, 0, list.stderr)
        let names = list.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(names.count, 1, list.stdout)
        let name = names.first ?? "none"
        XCTAssertTrue(name.hasPrefix("spike-"), name)

        let extract = borg(commands.passthrough(["extract", name]), in: "\(root)/restore")
        XCTAssertEqual(extract.status, 0, extract.stderr)
        let restored = "\(root)/restore" + root + "/data"
        for f in ["a.txt", "sub/b.bin"] {
            XCTAssertEqual(
                FileManager.default.contents(atPath: "\(restored)/\(f)"),
                FileManager.default.contents(atPath: "\(root)/data/\(f)"), f)
        }

        let delete = borg(commands.passthrough(["delete", name]))
        XCTAssertNotEqual(delete.status, 0, "delete succeeded under --permissions no-delete")
        XCTAssertTrue(delete.stderr.lowercased().contains("permission"), delete.stderr)
        let after = borg(commands.passthrough(["repo-list", "--format", "{archive}{NL}"]))
        XCTAssertEqual(after.stdout.split(separator: "\n").map(String.init), [name], after.stderr)
        stop(server)

        // 3. The control: the same delete through a server with all permissions goes through.
        server = try serve(appendOnly: false)
        let deleteAll = borg(commands.passthrough(["delete", name]))
        XCTAssertEqual(deleteAll.status, 0, deleteAll.stderr)
        let gone = borg(commands.passthrough(["repo-list", "--format", "{archive}{NL}"]))
        XCTAssertEqual(gone.status, 0, gone.stderr)
        XCTAssertEqual(gone.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "", gone.stdout)
        stop(server)
    }
}
