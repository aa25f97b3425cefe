import Glibc
import CLinux
import BorgPullCore

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

/// The process-wide signal set-up of a server run.
///
/// SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked and collected with sigtimedwait(2) in the
/// run loop, so a signal never interrupts cleanup half-way. Children start with an empty mask
/// and default dispositions (posix_spawnattr_setsigmask/setsigdefault).
enum ServerSignals {
    static let watched: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD]

    static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in watched { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // A closed pipe to a child must be an EPIPE, not the end of the server.
        signal(SIGPIPE, SIG_IGN)
    }

    /// The pending watched signals (consumed), without waiting.
    static func take() -> [Int32] {
        var set = sigset_t()
        sigemptyset(&set)
        for s in watched { sigaddset(&set, s) }
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        var out: [Int32] = []
        while true {
            let s = sigtimedwait(&set, nil, &zero)
            if s <= 0 { break }
            out.append(s)
        }
        return out
    }
}

/// Monotonic seconds.
func serverClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Starts a program in its own process group (posix_spawn(3)), optionally as another user
/// through `setpriv` (util-linux): real+effective uid/gid, supplementary groups from
/// initgroups(3), no_new_privs, and SIGTERM when the server dies. No shell, no sudo, no PAM.
struct ServerSpawner {
    static let setpriv = "/usr/bin/setpriv"

    /// argv that runs `argv` as `account` (nil: as the server's own user).
    static func asUser(_ account: Account?, _ argv: [String]) -> [String] {
        guard let a = account, geteuid() == 0, a.uid != 0 else { return argv }
        return [setpriv, "--reuid=\(a.uid)", "--regid=\(a.gid)", "--init-groups", "--no-new-privs",
                "--pdeathsig=TERM", "--"] + argv
    }

    /// A minimal environment for a child running as `account`.
    static func environment(for account: Account) -> [String] {
        ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=\(account.home)", "USER=\(account.name)",
         "LOGNAME=\(account.name)", "LANG=C.UTF-8", "LC_CTYPE=C.UTF-8"]
    }

    /// Spawns; stdin is /dev/null unless given. Descriptors: child 0/1/2 from `stdin`/`stdout`/`stderr`
    /// (-1: /dev/null for 0 and 1, inherit for 2). Every other descriptor of the server is
    /// close-on-exec.
    static func spawn(_ argv: [String], environment: [String], stdout: Int32 = -1, stderr: Int32 = -1) throws(ServerFailure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if stdout >= 0 { posix_spawn_file_actions_adddup2(&actions, stdout, 1) } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        if stderr >= 0 { posix_spawn_file_actions_adddup2(&actions, stderr, 2) }

        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in cArgv { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, &cArgv, &cEnv)
        guard rc == 0 else {
            throw ServerFailure(.serveFailed, "cannot start \(argv[0]): \(errnoText(rc)) (fix: apt-get install -y \(argv[0].hasSuffix("setpriv") ? "util-linux" : argv[0].split(separator: "/").last.map(String.init) ?? ""))")
        }
        return pid
    }
}

/// A pipe whose read end the server drains without blocking.
final class ServerPipe {
    let readFD: Int32
    var writeFD: Int32
    var buffer: [UInt8] = []
    let limit: Int
    var eof = false

    init(limit: Int) throws(ServerFailure) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw ServerFailure(.serveFailed, "pipe: \(errnoText())") }
        readFD = fds[0]
        writeFD = fds[1]
        self.limit = limit
        _ = fcntl(readFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
    }

    /// Closes the parent's copy of the write end (after the child has it).
    func closeWriteEnd() {
        if writeFD >= 0 { close(writeFD); writeFD = -1 }
    }

    /// Reads what is there; returns the new bytes.
    @discardableResult
    func drain() -> [UInt8] {
        var fresh: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !eof {
            let n = read(readFD, &chunk, chunk.count)
            if n > 0 {
                fresh += chunk[0..<n]
            } else if n == 0 {
                eof = true
            } else if errno == EINTR {
                continue
            } else {
                break
            }
        }
        buffer += fresh
        if buffer.count > limit { buffer.removeFirst(buffer.count - limit) }
        return fresh
    }

    deinit {
        close(readFD)
        if writeFD >= 0 { close(writeFD) }
    }
}

extension ServerSpawner {
    /// Makes this process the reaper of its orphaned descendants (see shim.h).
    static func becomeSubreaper() {
        _ = bps_set_child_subreaper()
    }
}
