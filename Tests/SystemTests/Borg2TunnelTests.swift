import XCTest
import Foundation
@testable import BorgPullCore

/// The borg 2 spike (README "Borg 2"): does the pull tunnel carry borg 2? A real borg 2.0.0b23
/// (`BORGPULL_TEST_BORG2`, built by `.ci/borg-venv.sh 2.0.0b23`; `make test-borg2`) on both
/// sides, the server's `borg serve --rest` behind real `socat UNIX-LISTEN` as an unprivileged
/// user (the argv of `ServerPlan.socatArguments(_, profile: .borg2Beta)`), the client's borg
/// with `BORG_RSH` = our relay (`borgpull-client relay`, SO_PEERCRED-checked), argv and
/// environment from `BorgCommands(profile: .borg2Beta)`. Not sandboxed: the product does not
/// run borg 2.
final class Borg2TunnelTests: XCTestCase {
    static let borg2 = ProcessInfo.processInfo.environment["BORGPULL_TEST_BORG2"] ?? ""
    let passphrase = "borg2 spike passphrase"

    func testCreateListExtractThroughTunnelAndDeleteRefusedWithNoDelete() throws {
        try requireRoot()
        try Prerequisites.requireTools(["socat", "setpriv"])
        try requirePrerequisite(!Self.borg2.isEmpty, "BORGPULL_TEST_BORG2 (a borg 2 binary; make test-borg2)")
        try requireExecutable(Self.borg2)
        try requireExecutable(Shell.product("borgpull-client"))
        let version = Shell.run([Self.borg2, "--version"]).stdout
        try requirePrerequisite(version.hasPrefix("borg 2."), "BORGPULL_TEST_BORG2 is not borg 2: \(version)")

        // Per run: nothing shared with another test run on this machine.
        let root = "/var/tmp/bp-borg2-\(getpid())-\(UUID().uuidString.prefix(8))"
        let nobody = Shell.uid("nobody")
        defer { Shell.run(["rm", "-rf", root]) }
        let setup = Shell.sh("""
            set -e
            mkdir -p -m 0755 \(root) \(root)/data/sub \(root)/restore \(root)/client
            install -d -o nobody -m 0755 \(root)/srv
            install -d -o nobody -m 0700 \(root)/srv/repo \(root)/srv/home
            printf 'hello borg 2\\n' > \(root)/data/a.txt
            head -c 300000 /dev/urandom > \(root)/data/sub/b.bin
            printf '%s\\n' '\(passphrase)' > \(root)/client/pass
            chmod 0600 \(root)/client/pass
            """)
        XCTAssertEqual(setup.status, 0, setup.stderr)

        let serverText = { (appendOnly: Bool) in """
            LOCAL_USER=nobody
            REMOTE_USER=bp
            REMOTE_HOST=client.invalid
            REPO_NAME=c
            REPO_DIR=\(root)/srv/repo
            RUN_DIR=\(root)/srv
            REMOTE_SOCKET_PATH=/run/unused.socket
            BORG_BINARY=\(Self.borg2)
            APPEND_ONLY=\(appendOnly ? "yes" : "no")
            """ }
        let client = try ClientConfig.build(ClientConfigInput(directory: "\(root)/client", texts: [
            .env: """
                BORG_REPO=ssh://server.invalid\(root)/srv/repo
                BACKUP_SOCKET=\(root)/srv/c.socket
                BORG_BINARY=\(Self.borg2)
                BORG_PASSCOMMAND='cat \(root)/client/pass'
                ARCHIVE_PREFIX=spike
                """,
            .paths: "\(root)/data\n",
        ], hookExecutable: [:]))
        let commands = BorgCommands(
            config: client,
            relayCommand: [Shell.product("borgpull-client"), "relay", "--socket", client.socketPath, "--peer-uid", String(nobody)],
            baseDirectory: "\(root)/client/base", profile: .borg2Beta)
        XCTAssertTrue(commands.repositoryURL.hasPrefix("rest://server.invalid/"), commands.repositoryURL)
        let env = commands.environment(passphraseFD: nil)
        func borg(_ argv: [String], in dir: String? = nil) -> Shell.Output {
            let cmd = ShellQuote.join(argv)
            return Shell.run(["/bin/sh", "-c", dir.map { "cd \(ShellQuote.quote($0)) && exec \(cmd)" } ?? "exec \(cmd)"], env: env)
        }

        // borg serve --rest behind socat, as nobody; stopped by the caller.
        func serve(appendOnly: Bool) throws -> Process {
            let c = try ServerConfig.parse(serverText(appendOnly), file: "spike.conf")
            XCTAssertEqual(c.socketPath, client.socketPath)
            let socat = Process()
            socat.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            socat.arguments = ["--reuid=\(nobody)", "--regid=\(Shell.run(["id", "-g", "nobody"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))",
                               "--clear-groups", "/usr/bin/socat"] + ServerPlan.socatArguments(c, profile: .borg2Beta)
            socat.environment = ["PATH": "/usr/bin:/bin", "HOME": "\(root)/srv/home", "LANG": "C.UTF-8"]
            socat.standardInput = FileHandle.nullDevice
            try socat.run()
            let end = Date().addingTimeInterval(10)
            while !FileManager.default.fileExists(atPath: c.socketPath) && Date() < end { usleep(50_000) }
            XCTAssertTrue(FileManager.default.fileExists(atPath: c.socketPath), "socat did not listen")
            return socat
        }
        func stop(_ p: Process) {
            p.terminate()
            p.waitUntilExit()
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
            XCTAssertEqual(FileManager.default.contents(atPath: "\(restored)/\(f)"),
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
