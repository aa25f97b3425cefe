import ArgumentParser
import BorgPullCore
import BorgPullSystem
import Logging

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore from the repository (the server must be in SERVE), keeping owners, modes, links, xattrs and ACLs.",
        discussion: """
            borg extract runs in the restore sandbox: uid 0 with only CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_MKNOD and CAP_SETFCAP, no_new_privs, locked securebits, the seccomp policy SECCOMP_RESTORE_POLICY, and Landlock allowing writes only beneath the target and borg's root-owned base directory STATE_DIR/borg-root (SECURITY.md, "The restore sandbox").
            --to DIR (default: a new STATE_DIR/restore/ARCHIVE-TIME-PID, root 0700) extracts below DIR;
            --in-place writes to the original locations and needs PATHs.
            --latest is this host's newest archive (ARCHIVE_PREFIX); another host's archive needs --archive NAME --any-host.
            PATHs as borg stores them (etc/hosts) or absolute (/etc/hosts) mean the same.
            A target that is a symlink is refused; one that already has files, or lies inside a selected path, needs --force.
            Exit 0 only when every selected item was restored; 14 when borg could not restore some (each named in the log).
            Setuid/setgid bits, trusted.* and security.* xattrs other than file capabilities, and the immutable/append-only flags are never restored by the sandbox: they are left to the admin.
            Exit status:
            \(ClientExit.table)
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: ArgumentHelp("The archive to restore from (see `borgpull-client borg list --short`).", valueName: "NAME"))
    var archive: String?

    @Flag(help: "This host's newest archive (by its archive names only).")
    var latest = false

    @Flag(name: .customLong("any-host"), help: "Allow --archive to name another host's archive.")
    var anyHost = false

    @Option(help: ArgumentHelp("Restore below this directory (default: a new one under STATE_DIR/restore).", valueName: "DIR"))
    var to: String?

    @Flag(name: .customLong("in-place"), help: "Restore to the original locations (requires PATHs).")
    var inPlace = false

    @Flag(name: .customLong("dry-run"), help: "List what would be restored; write nothing.")
    var dryRun = false

    @Flag(help: "Merge into a target that already has files, or that lies inside a selected path.")
    var force = false

    @Flag(help: "Print the restore record (JSON) on stdout at the end.")
    var json = false

    @Argument(help: "Paths to restore (default: the whole archive; required with --in-place).")
    var paths: [String] = []

    func run() throws {
        let log = Logger(label: "borgpull-client")
        let request = RestoreRequest(
            archive: archive, latest: latest, anyHost: anyHost, to: to, inPlace: inPlace,
            dryRun: dryRun, force: force, paths: paths)
        let (status, record) = try options.runner(log: log).restore(request)
        if json, let record { print(record.json(), terminator: "") }
        throw ExitCode(status.rawValue)
    }
}
