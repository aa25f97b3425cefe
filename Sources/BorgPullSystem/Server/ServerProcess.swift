import BorgPullCore
import Glibc

/// A server run could not go on: the exit status and a message that names the problem and the fix.
public struct ServerFailure: Error, CustomStringConvertible, Sendable {
    public var exit: ServerExit
    public var message: String

    public init(_ exit: ServerExit, _ message: String) {
        self.exit = exit
        self.message = message
    }

    public var description: String { message }
}

// errnoText(_:) comes from SeccompSystem.swift (same module).
// Spawning, signals (SIGINT/SIGTERM/SIGHUP/SIGCHLD on a signalfd), reaping and the subreaper
// role come from `Supervisor` (Supervisor.swift); this file holds only what is the server's own.

/// How the server's children (socat, ssh) run: optionally as another user through `setpriv`
/// (util-linux): real+effective uid/gid, supplementary groups from initgroups(3), no_new_privs,
/// and SIGTERM when the server dies. No shell, no sudo, no PAM.
enum ServerChildren {
    static let setpriv = "/usr/bin/setpriv"

    /// argv that runs `argv` as `account` (nil: as the server's own user).
    static func asUser(_ account: Account?, _ argv: [String]) -> [String] {
        // Why setpriv --pdeathsig also without a change of user: a server running as LOCAL_USER
        // outside systemd (cron, a shell) that is SIGKILLed has no cgroup to clean up after it,
        // and its socat went on listening (and forking borg serve) with the run's lock and slot
        // already free (ServerEndToEndTests.testSigkilledServerLeavesNoTunnelBehind).
        // (Only when not root: a root server with LOCAL_USER=root still runs them directly.)
        // Not under systemd (INVOCATION_ID set, systemd.exec(5)): there the unit's cgroup and
        // KillMode=mixed end the children, and setpriv's capset(2) is refused by the units'
        // SystemCallFilter=~@privileged (it would kill setpriv before socat ran).
        if geteuid() != 0 {
            return Environment.get("INVOCATION_ID") == nil ? [setpriv, "--pdeathsig=TERM", "--"] + argv : argv
        }
        guard let a = account, a.uid != 0 else { return argv }
        return [
            setpriv, "--reuid=\(a.uid)", "--regid=\(a.gid)", "--init-groups", "--no-new-privs",
            "--pdeathsig=TERM", "--"
        ] + argv
    }

    /// A minimal environment for a child running as `account`.
    static func environment(for account: Account) -> [String: String] {
        [
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": account.home, "USER": account.name,
            "LOGNAME": account.name, "LANG": "C.UTF-8", "LC_CTYPE": "C.UTF-8"
        ]
    }

    /// Starts `argv` with `supervisor` (`Supervisor.start`: its own process group, empty signal
    /// mask, default dispositions, stdin /dev/null, nothing but 0/1/2 inherited).
    /// - Throws: `.serveFailed` naming the package to install when posix_spawn(3) fails.
    static func start(
        _ supervisor: Supervisor, _ argv: [String], environment: [String: String],
        stdout: SpawnSpec.Output, stderr: SpawnSpec.Output
    ) throws(ServerFailure) -> Child {
        do {
            return try supervisor.start(SpawnSpec(argv: argv, environment: environment, stdout: stdout, stderr: stderr))
        } catch {
            let pkg = argv[0].hasSuffix("setpriv") ? "util-linux" : argv[0].split(separator: "/").last.map(String.init) ?? ""
            throw ServerFailure(.serveFailed, "cannot start \(argv[0]): \(errnoText(error.errno)) (fix: apt-get install -y \(pkg))")
        }
    }
}
