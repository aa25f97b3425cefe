import Glibc
import CLinux
import BorgPullCore

/// How a child process ended (wait(2)).
public enum Termination: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a status from wait(2) (WIFEXITED/WEXITSTATUS, WTERMSIG).
    init(waitStatus status: Int32) {
        let low = status & 0x7f
        self = low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
    }

    /// The borg meaning of this termination.
    public var borgOutcome: BorgOutcome {
        switch self {
        case .exited(let rc): return BorgOutcome(exitCode: rc)
        case .signaled(let s): return .signaled(s)
        }
    }
}

/// What to start: an absolute executable, argv, a complete environment (nothing inherited).
public struct SpawnSpec: Sendable {
    public enum Output: Sendable, Equatable {
        /// The helper's own descriptor (the journal under systemd).
        case inherit
        case null
        /// Onto the helper's stderr (a child whose stdout must not mix with the helper's own).
        case stderr
        /// Collected into `ProcessResult.stdout`, at most `OutputReader.captureLimit` (4 MiB); more
        /// sets `ProcessResult.stdoutOverflowed`.
        case capture
        /// Forwarded line by line to the line sink, prefixed; the last lines are kept. Lines are
        /// cut at `LineAssembler.defaultMaxLineBytes` (8 KiB).
        case lines(prefix: String)
        /// Onto a descriptor of the helper, e.g. the write end of a pipe the caller reads itself
        /// (`run` does not read it).
        case descriptor(Int32)
    }

    public var argv: [String]
    public var environment: [String: String]
    public var stdout: Output
    public var stderr: Output
    /// Parent descriptors placed at fixed numbers in the child, e.g. a passphrase pipe at 3.
    public var descriptors: [(child: Int32, parent: Int32)]
    public var workingDirectory: String

    public init(argv: [String], environment: [String: String], stdout: Output = .inherit, stderr: Output = .inherit,
                descriptors: [(child: Int32, parent: Int32)] = [], workingDirectory: String = "/") {
        self.argv = argv
        self.environment = environment
        self.stdout = stdout
        self.stderr = stderr
        self.descriptors = descriptors
        self.workingDirectory = workingDirectory
    }
}

public struct ProcessResult: Sendable {
    public var termination: Termination
    /// A `.capture` stdout, at most `OutputReader.captureLimit` bytes.
    public var stdout: [UInt8]
    /// The `.capture` stdout passed `OutputReader.captureLimit`: `stdout` holds only its first
    /// bytes, so it is not valid output (the rest was read and dropped).
    public var stdoutOverflowed: Bool
    /// The last lines of a `.lines` output (stderr first if both), at most 100.
    public var tail: [String]
    /// The timeout elapsed and the process group was terminated.
    public var timedOut: Bool
    /// A SIGTERM/SIGINT/SIGHUP the helper received and forwarded while this process ran.
    public var interruptedBy: Int32?
    public var seconds: Double
}

/// Monotonic seconds (clock_gettime(2) CLOCK_MONOTONIC).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Starts and watches child processes; owns the helper's signal handling.
///
/// SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked in the whole process and read from a
/// signalfd(2), so a signal never interrupts the helper between steps: it is seen by `run` (and
/// forwarded to the running child's process group) or by `takeSignals` at a step boundary.
/// Create it before any thread starts (first thing in the client's `main`; in borgpull-server's
/// `ServerRun` once the lock is held), so every thread inherits the mask.
public final class Supervisor: @unchecked Sendable {
    let signalFD: Int32
    /// The first terminating signal received (SIGTERM, SIGINT or SIGHUP), if any.
    public private(set) var receivedSignal: Int32?

    static let watched: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD]

    public init() throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in Supervisor.watched { sigaddset(&set, s) }
        guard pthread_sigmask(SIG_BLOCK, &set, nil) == 0 else { throw SystemError("pthread_sigmask") }
        let fd = signalfd(-1, &set, Int32(SFD_CLOEXEC | SFD_NONBLOCK))
        guard fd >= 0 else { throw SystemError("signalfd") }
        signalFD = fd
    }

    deinit {
        close(signalFD)
    }

    /// Makes this process the reaper of its orphaned descendants (prctl(2) PR_SET_CHILD_SUBREAPER,
    /// see CLinux/shim.h): a grandchild whose parent died first is re-parented here, not to PID 1,
    /// and `reapChildren` collects it.
    public func becomeSubreaper() {
        _ = borgpull_set_child_subreaper()
    }

    /// Waits until one of `descriptors` is readable (or at its end), a watched signal arrives
    /// (SIGCHLD too: a child ended) or `timeout` seconds pass (poll(2) on them and the signalfd).
    /// Nothing is consumed: read the signals with `takeSignals`, the children with `reapChildren`.
    public func wait(readable descriptors: [Int32] = [], timeout: Double) {
        var pfds = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
        pfds += descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&pfds, nfds_t(pfds.count), Int32(max(0, timeout) * 1000) + 1)
    }

    /// Reaps, without waiting, every child that has ended: the ones `spawn` started and, after
    /// `becomeSubreaper`, orphaned descendants (waitpid(2) on -1 with WNOHANG).
    /// - Returns: each reaped pid with how it ended, in the order reaped.
    public func reapChildren() -> [(pid: pid_t, termination: Termination)] {
        var out: [(pid: pid_t, termination: Termination)] = []
        while true {
            var status: Int32 = 0
            let pid = retrying { waitpid(-1, &status, WNOHANG) }
            if pid <= 0 { return out }
            out.append((pid, Termination(waitStatus: status)))
        }
    }

    /// Reads pending signals; returns the terminating ones (SIGCHLD is consumed silently).
    @discardableResult
    public func takeSignals() -> [Int32] {
        var out: [Int32] = []
        var info = signalfd_siginfo()
        while retrying({ read(signalFD, &info, MemoryLayout<signalfd_siginfo>.size) }) == MemoryLayout<signalfd_siginfo>.size {
            let s = Int32(info.ssi_signo)
            if s != SIGCHLD {
                out.append(s)
                if receivedSignal == nil { receivedSignal = s }
            }
        }
        return out
    }

    /// Starts `spec` in its own process group with default signal dispositions and an empty
    /// signal mask, stdin /dev/null and only the descriptors asked for (posix_spawn(3)).
    /// - Returns: the child's pid (also its process group id).
    public func spawn(_ spec: SpawnSpec, stdoutPipe: Int32? = nil, stderrPipe: Int32? = nil) throws(SystemError) -> pid_t {
        guard let path = spec.argv.first, path.hasPrefix("/") else {
            throw SystemError("spawn (executable must be an absolute path)", path: spec.argv.first, errno: EINVAL)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (target, output, pipe) in [(Int32(1), spec.stdout, stdoutPipe), (Int32(2), spec.stderr, stderrPipe)] {
            switch output {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .stderr: posix_spawn_file_actions_adddup2(&actions, 2, target)
            case .capture, .lines: if let pipe { posix_spawn_file_actions_adddup2(&actions, pipe, target) }
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        }
        var highest: Int32 = 2
        for (child, parent) in spec.descriptors {
            posix_spawn_file_actions_adddup2(&actions, parent, child)
            highest = max(highest, child)
        }
        // Nothing else crosses into the child: not the lock, not the signalfd, not other pipes.
        posix_spawn_file_actions_addclosefrom_np(&actions, highest + 1)
        posix_spawn_file_actions_addchdir_np(&actions, spec.workingDirectory)

        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = spec.argv.map { strdup($0) } + [nil]
        let envp = spec.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw SystemError("spawn", path: path, errno: rc) }
        return pid
    }

    /// Runs `spec` to its end.
    ///
    /// A SIGTERM/SIGINT/SIGHUP received meanwhile is forwarded to the child's process group and
    /// recorded; the child is still awaited (borg writes a checkpoint on SIGINT/SIGTERM).
    /// When `timeout` seconds pass, the group gets SIGTERM, and SIGKILL `grace` seconds later.
    /// - Parameter lineSink: receives each line of a `.lines` output, already prefixed.
    /// - Parameter forwardSignals: false for the post hook, which must finish even while the
    ///   helper is being stopped (the signal is still recorded).
    public func run(_ spec: SpawnSpec, timeout: Double? = nil, grace: Double = 10, forwardSignals: Bool = true,
                    lineSink: (String) -> Void = { _ in }) throws(SystemError) -> ProcessResult {
        let started = monotonicSeconds()
        var readers: [OutputReader] = []
        var childEnds: [Int32] = []
        func makePipe(_ output: SpawnSpec.Output) throws(SystemError) -> Int32? {
            guard output == .capture || { if case .lines = output { return true } else { return false } }() else { return nil }
            var fds: [Int32] = [0, 0]
            guard pipe2(&fds, O_CLOEXEC) == 0 else { throw SystemError("pipe2") }
            _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
            readers.append(OutputReader(fd: fds[0], output: output))
            childEnds.append(fds[1])
            return fds[1]
        }
        let errPipe = try makePipe(spec.stderr)
        let outPipe = try makePipe(spec.stdout)
        let pid: pid_t
        do {
            pid = try spawn(spec, stdoutPipe: outPipe, stderrPipe: errPipe)
        } catch {
            for fd in childEnds { close(fd) }
            for r in readers { close(r.fd) }
            throw error
        }
        for fd in childEnds { close(fd) }

        var termination: Termination?
        var timedOut = false
        var interruptedBy: Int32?
        var killAt: Double?
        let deadline = timeout.map { started + $0 }

        func reap() {
            var status: Int32 = 0
            let r = retrying { waitpid(pid, &status, WNOHANG) }
            guard r == pid else { return }
            termination = Termination(waitStatus: status)
        }

        while termination == nil {
            let now = monotonicSeconds()
            if let d = deadline, !timedOut, now >= d {
                timedOut = true
                kill(-pid, SIGTERM)
                killAt = now + grace
            }
            if let k = killAt, now >= k {
                kill(-pid, SIGKILL)
                killAt = nil
            }
            var wait = 1.0
            if let d = deadline, !timedOut { wait = min(wait, d - now) }
            if let k = killAt { wait = min(wait, k - now) }
            self.wait(readable: readers.filter { !$0.closed }.map(\.fd), timeout: wait)
            for s in takeSignals() {
                interruptedBy = interruptedBy ?? s
                if forwardSignals { kill(-pid, s) }
            }
            for r in readers where !r.closed { r.drain(lineSink) }
            reap()
        }
        for r in readers {
            if !r.closed { r.drain(lineSink, maxReads: .max) }
            r.finish(lineSink)
            close(r.fd)
        }
        let capture = readers.first { $0.output == .capture }
        return ProcessResult(termination: termination!, stdout: capture?.captured ?? [],
                             stdoutOverflowed: capture?.overflowed ?? false, tail: readers.flatMap(\.tail), timedOut: timedOut, interruptedBy: interruptedBy,
                             seconds: monotonicSeconds() - started)
    }
}

/// Reads one non-blocking pipe of a child: collects bytes or splits lines, in bounded memory.
final class OutputReader {
    let fd: Int32
    let output: SpawnSpec.Output
    var closed = false
    var captured: [UInt8] = []
    /// More than `captureLimit` bytes arrived on a `.capture` output.
    var overflowed = false
    var lines = LineAssembler()
    var tail: [String] = []
    /// 4 MiB, in bytes: what a `.capture` output may hold. Its users print one small JSON object
    /// (`borg create --json`: archive, repository, cache stats, a few KiB); past this the output
    /// is not what was expected, and a child must not make the helper grow without end.
    static let captureLimit = 4 << 20
    /// Lines kept in `tail`; with `LineAssembler`'s cut, at most about 100 x 8 KiB.
    static let tailLines = 100

    init(fd: Int32, output: SpawnSpec.Output) {
        self.fd = fd
        self.output = output
    }

    /// Reads what is available now (never blocks), at most `maxReads` reads of 64 KiB, so a child
    /// that writes without pause cannot keep `run` from its signals and timeouts.
    func drain(_ sink: (String) -> Void, maxReads: Int = 16) {
        var buf = [UInt8](repeating: 0, count: 65536)
        var reads = 0
        while reads < maxReads {
            reads += 1
            let n = retrying { read(fd, &buf, buf.count) }
            if n == 0 { closed = true; return }
            if n < 0 { if errno != EAGAIN { closed = true }; return }
            switch output {
            case .capture:
                let room = OutputReader.captureLimit - captured.count
                if n > room { overflowed = true }
                if room > 0 { captured += buf[0..<min(n, room)] }
            case .lines(let prefix):
                buf.withUnsafeBufferPointer { b in
                    lines.feed(UnsafeBufferPointer(rebasing: b[0..<n])) { emit(prefix, $0, sink) }
                }
            default: break
            }
        }
    }

    func emit(_ prefix: String, _ line: String, _ sink: (String) -> Void) {
        sink(prefix + line)
        tail.append(line)
        if tail.count > OutputReader.tailLines { tail.removeFirst(tail.count - OutputReader.tailLines) }
    }

    func finish(_ sink: (String) -> Void) {
        if case .lines(let prefix) = output { lines.finish { emit(prefix, $0, sink) } }
    }
}
