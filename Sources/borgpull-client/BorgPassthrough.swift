import ArgumentParser
import Logging
import BorgPullCore
import BorgPullSystem

struct BorgPassthrough: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "borg",
        abstract: "Run a borg command through the tunnel with this configuration.",
        discussion: """
        Replaces the original's `source /etc/borgpull/borg_env; borg ...` throw-away shell: the
        repository, the passphrase (through a pipe, never the environment), the relay and borg's
        state directory come from the config. The server must be forwarding (borgpull-server SERVE).
        Examples:
          borgpull-client -c /etc/borgpull borg init --encryption=repokey-blake2
          borgpull-client borg list
          borgpull-client borg extract ::HOST-2026-01-01T00:00:00 etc/hosts
        Exit status: borg's own, or 10/12 as for BACKUP when the socket or config is wrong.
        """)

    @OptionGroup var options: ConfigOptions
    @Argument(parsing: .captureForPassthrough, help: "borg's arguments.") var arguments: [String] = []

    func run() throws {
        let log = Logger(label: "borgpull-client")
        let supervisor: Supervisor
        let runner: BackupRunner
        let prepared: BackupRunner.Prepared
        do {
            supervisor = try Supervisor()
            runner = BackupRunner(directory: options.resolved, supervisor: supervisor, log: log)
            prepared = try runner.prepare()
        } catch let e as BackupRunner.EarlyExit {
            log.error("\(e.message)")
            throw ExitCode(e.status.rawValue)
        }
        let args = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
        do {
            let r = try runner.runBorg(prepared, argv: prepared.commands.passthrough(args), stdout: .inherit, stderr: .inherit)
            switch r.termination {
            case .exited(let rc): throw ExitCode(rc)
            case .signaled(let s): throw ExitCode(128 + s)
            }
        } catch let e as SystemError {
            log.error("\(e)")
            throw ExitCode(ClientExit.internalError.rawValue)
        }
    }
}
