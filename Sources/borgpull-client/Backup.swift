import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Logging

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Run one backup through the forwarded socket (what the server's BACKUP triggers).",
        discussion: """
            Order: load and audit the config; check the socket (exists, is a socket, not a symlink, owned by the ssh user, mode within StreamLocalBindMask, someone listening); take the run lock (a second BACKUP exits 11 at once); pre hook; borg create ::PREFIX-{now}; borg prune --glob-archives 'PREFIX-' + the {now} timestamp (only this host's own archives, never those of a host whose prefix starts with PREFIX-); the post hook, always (after a pre-hook failure, a borg error, SIGTERM or SIGINT); then the result record (RESULT_FILE, default /var/lib/borgpull/results/last-backup.json).
            On any socket problem nothing runs, not even the pre hook.
            Under systemd each log line carries its syslog priority: journalctl -u run-borg-backup -p err shows the errors only.
            Exit status (the worst of the steps):
            \(ClientExit.table)
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print the result record (JSON) on stdout at the end.")
    var json = false

    func run() throws {
        let log = Logger(label: "borgpull-client")
        let (status, record) = try options.runner(log: log).backup()
        if let record {
            for line in record.summary.split(separator: "\n") {
                if status == .ok { log.info("\(line)") } else if status == .warning { log.warning("\(line)") } else { log.error("\(line)") }
            }
            if json { print(record.json(), terminator: "") }
        }
        throw ExitCode(status.rawValue)
    }
}
