import ArgumentParser
import Foundation
import Logging
import BorgPullCore
import BorgPullSystem

struct BorgPassthrough: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borg",
        abstract: "Run a borg command through the tunnel with this configuration.",
        discussion: """
        Replaces the original's `source /etc/borgpull/borg_env; borg ...` shell: the repository,
        the passphrase (through a pipe, never the environment), the relay and borg's state
        directory come from the config.
        The server must be forwarding (borgpull-server SERVE).
        borg runs as the runner, in the same sandbox as BACKUP's: `extract` then writes files
        owned by the runner, into a directory the runner may write.
        Landlock lets it write only beneath borg's base directory and, for extract, export-tar
        and key export, the current directory (never /, never one holding a sticky or
        world-writable directory): start a restore from an empty directory made for it, or use
        `borgpull-client restore`.
        For a restore that keeps owners and modes, add --unsandboxed (borg runs as root; logged),
        with its own root-owned base directory STATE_DIR/borg-root, never the runner's.
        Exit status: borg's own; 10, 12 or 13 as for BACKUP when the socket, the config or the
        sandbox is wrong.
        Examples:
          borgpull-client -c /etc/borgpull borg init --encryption=repokey-blake2
          borgpull-client borg list
          borgpull-client borg extract ::HOST-2026-01-01T00:00:00 etc/hosts
        """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Run borg as root without the sandbox (for a restore that keeps owners: extract runs as the runner otherwise). Logged.")
    var unsandboxed = false

    @Argument(parsing: .captureForPassthrough, help: "borg's arguments.") var arguments: [String] = []

    func run() throws {
        let log = Logger(label: "borgpull-client")
        let supervisor: Supervisor
        let runner: BackupRunner
        var prepared: BackupRunner.Prepared
        do {
            supervisor = try Supervisor()
            runner = BackupRunner(directory: options.resolved, supervisor: supervisor, log: log)
            prepared = try runner.prepare()
        } catch let e as BackupRunner.EarlyExit {
            log.error("\(e.message)")
            throw ExitCode(e.status.rawValue)
        }
        let args = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
        let cwd = FileManager.default.currentDirectoryPath
        // Why the current directory is writable, and only for extract, export-tar and key
        // export: they write where the admin stands, as borg itself would. Landlock then allows
        // writes everywhere below it, so it must not hold a directory others use (a /tmp-like
        // sticky or world-writable one, as /var holds /var/tmp), and it is never /.
        if !unsandboxed && BorgCommands.writesWorkingDirectory(args) {
            if cwd == "/" {
                log.error("borg \(args.first { !$0.hasPrefix("-") } ?? "") would write into /: the sandbox lets borg write only below the current directory (fix: cd into an empty directory made for it, or use borgpull-client restore --to DIR)")
                throw ExitCode(ClientExit.configError.rawValue)
            }
            if let open = Files.openDirectory(atOrBelow: cwd) {
                log.error("\(open) is writable by others or sticky (or the tree is too large to check); the sandboxed borg may write everywhere below the current directory \(cwd), so it refuses to (fix: cd into an empty directory made for it, or use borgpull-client restore --to DIR)")
                throw ExitCode(ClientExit.configError.rawValue)
            }
            prepared.sandbox.writableDirectories.append(cwd)
        }
        do {
            if unsandboxed {
                // Why: a root borg must not read cache, security or Python site files the
                // runner (a possibly compromised sandboxed borg) could have written.
                prepared.commands.baseDirectory = try StateLayout.rootBaseDirectory(prepared.config)
                log.warning("borg runs as root without the sandbox (--unsandboxed), base directory \(prepared.commands.baseDirectory)")
            }
            // borg extract writes where the admin stands, as borg itself would.
            let r = try runner.runBorg(prepared, argv: prepared.commands.passthrough(args), stdout: .inherit, stderr: .inherit,
                                       workingDirectory: cwd, sandboxed: !unsandboxed)
            if let step = r.sandboxFailure {
                log.error("sandbox step \(step) failed; borg did not run")
                throw ExitCode(ClientExit.sandboxFailed.rawValue)
            }
            switch r.process.termination {
            case .exited(let rc): throw ExitCode(rc)
            case .signaled(let s): throw ExitCode(128 + s)
            }
        } catch let e as SystemError {
            log.error("\(e)")
            throw ExitCode(ClientExit.internalError.rawValue)
        }
    }
}
