import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Logging

struct KeyExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key-export",
        abstract: "Export the repository key for escrow (borg key export); the server must be in SERVE.",
        discussion: """
            A repokey lives in the repository, so borg reaches it through the tunnel: start borgpull-server -c FILE SERVE first.
            borg key export runs in the backup sandbox and prints the key; borgpull-client writes it to FILE as a new file, root's, mode 0600 (an existing FILE or symlink is never overwritten or followed; a directory others may write without the sticky bit is refused).
            The time, FILE, format and BORG_REPO are recorded in STATE_DIR/key-export.json, which borgpull-check reads (key.export warns until an export of the current BORG_REPO was made).
            The exported key is still protected by the passphrase: keep FILE off this machine, and the passphrase apart from it (README, "Key escrow").
            Import it again with borg key import (--paper for the paper format).
            Exit status:
            \(ClientExit.table)
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "The paper format: lines with checksums to print and type in again (borg key import --paper).")
    var paper = false

    @Argument(help: ArgumentHelp("The new file to write the key to (absolute path; never overwritten).", valueName: "FILE"))
    var file: String

    func run() throws {
        let log = Logger(label: "borgpull-client")
        let runner = try options.runner(log: log)
        throw ExitCode(runner.exportKey(file: file, paper: paper).rawValue)
    }
}
