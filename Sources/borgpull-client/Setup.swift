import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Logging

struct Setup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Create the socket directory (owner: the ssh user, mode 0710) and the state directory.",
        discussion: """
            Run at boot by borg-backup-create-directory.service (/run is empty after a reboot).
            Idempotent.
            A socket directory owned by anyone but the ssh user is refused, not taken over: it may hold someone else's files.
            A configuration with any FAIL finding of the audit (borgpull-check) is refused: nothing is created or changed.
            Exit status: 0 ok, 12 configuration problem (audit FAIL included), 70 system error.
            """)

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let status = SetupRunner.run(directory: options.resolved, log: Logger(label: "borgpull-client"))
        throw ExitCode(status.rawValue)
    }
}
