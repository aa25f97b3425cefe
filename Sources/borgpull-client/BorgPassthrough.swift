import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct BorgPassthrough: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borg",
        abstract: "Run a borg command through the tunnel with this configuration.",
        discussion: """
            Replaces the original's `source /etc/borgpull/borg_env; borg ...` shell: the repository, the passphrase (through a pipe, never the environment), the relay and borg's state directory come from the config.
            The server must be forwarding (borgpull-server SERVE).
            Every argument after borg goes to borg, --help too (through the tunnel, after the config audit): this text is borgpull-client help borg.
            For read-only commands (list, info, check, diff, extract --stdout) and init.
            borg runs as the runner, in the same sandbox as BACKUP's, and may write only beneath borg's base directory (export-tar: also the current directory, never /, never one holding a sticky or world-writable directory).
            Not run here, with the command to use printed instead (exit 64):
            extract (use borgpull-client restore, which keeps owners and modes in its own sandbox), key export (use borgpull-client key-export FILE), and the removed --unsandboxed.
            Exit status: borg's own; 10, 12 or 13 as for BACKUP when the socket, the config or the sandbox is wrong; 64 for a refused command.
            Examples:
              borgpull-client -c /etc/borgpull borg init --encryption=repokey-blake2
              borgpull-client borg list
              borgpull-client borg extract --stdout ::HOST-2026-01-01T00:00:00 etc/hosts
            """)

    @OptionGroup var options: ConfigOptions

    @Argument(parsing: .captureForPassthrough, help: "borg's arguments.") var arguments: [String] = []

    func run() throws {
        let log = Logger(label: "borgpull-client")
        let args = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
        let cwd = FileManager.default.currentDirectoryPath
        // Decided before the config is read: a refused command needs no server and runs nothing.
        let writesWorkingDirectory: Bool
        switch PassthroughRules.decide(args, workingDirectory: cwd, configDirectory: options.resolved) {
        case .refuse(let problem, let fix):
            log.error("\(problem) (use: \(fix))")
            throw ExitCode(ClientExit.usage.rawValue)
        case .run(let writes):
            writesWorkingDirectory = writes
        }
        let runner = try options.runner(log: log)
        var prepared: BackupRunner.Prepared
        do {
            prepared = try runner.prepare()
        } catch {
            log.error("\(error.message)")
            throw ExitCode(error.status.rawValue)
        }
        // Why the current directory is writable, and only for export-tar: it writes its file
        // where the admin stands, as borg itself would. Landlock then allows writes everywhere
        // below it, so it must not hold a directory others use (a /tmp-like sticky or
        // world-writable one, as /var holds /var/tmp), and it is never /.
        if writesWorkingDirectory {
            if cwd == "/" {
                log.error(
                    "borg \(args.first { !$0.hasPrefix("-") } ?? "") would write into /: the sandbox lets borg write only below the current directory (fix: cd into an empty directory made for it)"
                )
                throw ExitCode(ClientExit.configError.rawValue)
            }
            if let open = Files.openDirectory(atOrBelow: cwd) {
                log.error(
                    "\(open) is writable by others or sticky (or the tree is too large to check); the sandboxed borg may write everywhere below the current directory \(cwd), so it refuses to (fix: cd into an empty directory made for it)"
                )
                throw ExitCode(ClientExit.configError.rawValue)
            }
            prepared.sandbox.writableDirectories.append(cwd)
        }
        do {
            let r = try runner.runBorg(
                prepared, argv: prepared.commands.passthrough(args), stdout: .inherit, stderr: .inherit,
                workingDirectory: cwd)
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
