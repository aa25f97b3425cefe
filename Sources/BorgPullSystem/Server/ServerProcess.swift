import Glibc
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
// Spawning, signals (SIGINT/SIGTERM/SIGHUP/SIGCHLD on a signalfd), reaping and the subreaper
// role come from `Supervisor` (Supervisor.swift); this file holds only what is the server's own.

/// How the server's children (socat, ssh) run: optionally as another user through `setpriv`
/// (util-linux): real+effective uid/gid, supplementary groups from initgroups(3), no_new_privs,
/// and SIGTERM when the server dies. No shell, no sudo, no PAM.
enum ServerChildren {
    static let setpriv = "/usr/bin/setpriv"

    /// argv that runs `argv` as `account` (nil: as the server's own user).
    static func asUser(_ account: Account?, _ argv: [String]) -> [String] {
        guard let a = account, geteuid() == 0, a.uid != 0 else { return argv }
        return [setpriv, "--reuid=\(a.uid)", "--regid=\(a.gid)", "--init-groups", "--no-new-privs",
                "--pdeathsig=TERM", "--"] + argv
    }

    /// A minimal environment for a child running as `account`.
    static func environment(for account: Account) -> [String: String] {
        ["PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": account.home, "USER": account.name,
         "LOGNAME": account.name, "LANG": "C.UTF-8", "LC_CTYPE": "C.UTF-8"]
    }

    /// Starts `argv` with `supervisor` (its own process group, empty signal mask, default
    /// dispositions, stdin /dev/null, nothing but 0/1/2 inherited).
    /// - Throws: `.serveFailed` naming the package to install when posix_spawn(3) fails.
    static func spawn(_ supervisor: Supervisor, _ argv: [String], environment: [String: String],
                      stdout: SpawnSpec.Output, stderr: SpawnSpec.Output) throws(ServerFailure) -> pid_t {
        do {
            return try supervisor.spawn(SpawnSpec(argv: argv, environment: environment, stdout: stdout, stderr: stderr))
        } catch {
            let pkg = argv[0].hasSuffix("setpriv") ? "util-linux" : argv[0].split(separator: "/").last.map(String.init) ?? ""
            throw ServerFailure(.serveFailed, "cannot start \(argv[0]): \(errnoText(error.errno)) (fix: apt-get install -y \(pkg))")
        }
    }
}

/// A pipe whose read end the server drains without blocking, keeping a bounded part of what
/// came through.
final class ServerPipe {
    /// Which bytes `buffer` keeps.
    enum Keep {
        /// The first `limit` bytes; more sets `overflowed` (the output is then not valid).
        case head(Int)
        /// The last `limit` bytes.
        case tail(Int)
    }

    let readFD: Int32
    var writeFD: Int32
    var buffer: [UInt8] = []
    let keep: Keep
    var eof = false
    var overflowed = false

    init(keep: Keep) throws(ServerFailure) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw ServerFailure(.serveFailed, "pipe: \(errnoText())") }
        readFD = fds[0]
        writeFD = fds[1]
        self.keep = keep
        _ = fcntl(readFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
    }

    /// Closes the parent's copy of the write end (after the child has it).
    func closeWriteEnd() {
        if writeFD >= 0 { close(writeFD); writeFD = -1 }
    }

    /// Reads what is there now, at most `maxReads` reads of 64 KiB (a flood cannot keep the
    /// server from its signals and deadlines, and nothing read is held beyond `keep`); hands each
    /// chunk to `each` as it arrives.
    func drain(maxReads: Int = 16, _ each: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        var reads = 0
        while !eof && reads < maxReads {
            let n = read(readFD, &chunk, chunk.count)
            if n > 0 {
                reads += 1
                chunk.withUnsafeBufferPointer { each(UnsafeBufferPointer(rebasing: $0[0..<n])) }
                switch keep {
                case .head(let limit):
                    let room = limit - buffer.count
                    if n > room { overflowed = true }
                    if room > 0 { buffer += chunk[0..<min(n, room)] }
                case .tail(let limit):
                    buffer += chunk[0..<n]
                    if buffer.count > limit { buffer.removeFirst(buffer.count - limit) }
                }
            } else if n == 0 {
                eof = true
            } else if errno == EINTR {
                continue
            } else {
                break
            }
        }
    }

    deinit {
        close(readFD)
        if writeFD >= 0 { close(writeFD) }
    }
}
