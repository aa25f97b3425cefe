import BorgPullCore
import CLinux
import Glibc

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

        /// The helper reads it through a pipe (`.capture`, `.lines`).
        var isRead: Bool {
            switch self {
            case .capture, .lines: return true
            default: return false
            }
        }
    }

    public var argv: [String]
    public var environment: [String: String]
    public var stdout: Output
    public var stderr: Output
    /// Parent descriptors placed at fixed numbers in the child, e.g. a passphrase pipe at 3.
    public var descriptors: [(child: Int32, parent: Int32)]
    /// nil: the helper's own.
    public var workingDirectory: String?

    public init(
        argv: [String], environment: [String: String], stdout: Output = .inherit, stderr: Output = .inherit,
        descriptors: [(child: Int32, parent: Int32)] = [], workingDirectory: String? = "/"
    ) {
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
    /// A `.capture` stderr, at most `OutputReader.captureLimit` bytes.
    public var stderr: [UInt8]
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
///
/// A child's end is noticed through its pidfd (pidfd_open(2), Linux 5.3: readable once the child
/// has ended), polled together with the signalfd and the child's pipes: at once, whether or not
/// SIGCHLD reaches the signalfd (a thread started before the mask may take it). Where the kernel
/// refuses pidfd_open, SIGCHLD on the signalfd and a short poll stand in.
public final class Supervisor: @unchecked Sendable {
    /// -1 when the supervisor does not handle signals (`handlingSignals: false`).
    let signalFD: Int32
    /// The first terminating signal received (SIGTERM, SIGINT or SIGHUP), if any.
    public private(set) var receivedSignal: Int32?
    /// The children `start` started and nobody reaped yet, by pid.
    var running: [pid_t: Child] = [:]

    static let watched: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGCHLD]

    init(signalFD: Int32) {
        self.signalFD = signalFD
    }

    /// Blocks the watched signals in the process and opens the signalfd.
    /// - Throws: `SystemError` from pthread_sigmask(3) or signalfd(2).
    public convenience init() throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in Supervisor.watched { sigaddset(&set, s) }
        guard pthread_sigmask(SIG_BLOCK, &set, nil) == 0 else { throw SystemError("pthread_sigmask") }
        let fd = signalfd(-1, &set, Int32(SFD_CLOEXEC | SFD_NONBLOCK))
        guard fd >= 0 else { throw SystemError("signalfd") }
        self.init(signalFD: fd)
    }

    /// A supervisor that leaves the process's signals alone (no mask, no signalfd): `takeSignals`
    /// is always empty and nothing is forwarded. For borgpull-check, which Ctrl-C must end.
    public static func leavingSignalsAlone() -> Supervisor { Supervisor(signalFD: -1) }

    deinit {
        if signalFD >= 0 { close(signalFD) }
    }

    /// Makes this process the reaper of its orphaned descendants (prctl(2) PR_SET_CHILD_SUBREAPER,
    /// see CLinux/shim.h): a grandchild whose parent died first is re-parented here, not to PID 1,
    /// and `reapChildren` collects it.
    public func becomeSubreaper() {
        _ = borgpull_set_child_subreaper()
    }

    /// Waits until one of `descriptors` is readable (or at its end), one of `children` ends, a
    /// watched signal arrives (SIGCHLD too) or `timeout` seconds pass (poll(2) on them, the
    /// children's pidfds and the signalfd). Nothing is consumed: read the signals with
    /// `takeSignals`, the children with `reap` or `reapChildren`.
    public func wait(readable descriptors: [Int32] = [], children: [Child] = [], timeout: Double) {
        var fds = descriptors
        var waitLimit = max(0, timeout)
        for c in children where c.termination == nil {
            if c.pidFD >= 0 { fds.append(c.pidFD) } else if signalFD < 0 { waitLimit = min(waitLimit, 0.05) }
        }
        if signalFD >= 0 { fds.append(signalFD) }
        var pfds = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&pfds, nfds_t(pfds.count), Int32(waitLimit * 1000) + 1)
    }

    /// Reaps, without waiting, every child that has ended: the ones `start` started and, after
    /// `becomeSubreaper`, orphaned descendants (waitpid(2) on -1 with WNOHANG). A started child
    /// gets its `termination`.
    /// - Returns: each reaped pid with how it ended, in the order reaped.
    @discardableResult
    public func reapChildren() -> [(pid: pid_t, termination: Termination)] {
        var out: [(pid: pid_t, termination: Termination)] = []
        while true {
            var status: Int32 = 0
            let pid = retrying { waitpid(-1, &status, WNOHANG) }
            if pid <= 0 { return out }
            let t = Termination(waitStatus: status)
            running.removeValue(forKey: pid)?.ended(t)
            out.append((pid, t))
        }
    }

    /// Reaps `child` if it has ended (waitpid(2) on its pid, WNOHANG).
    /// - Returns: its termination, nil while it runs.
    @discardableResult
    public func reap(_ child: Child) -> Termination? {
        if child.termination == nil {
            var status: Int32 = 0
            if retrying({ waitpid(child.pid, &status, WNOHANG) }) == child.pid {
                running.removeValue(forKey: child.pid)
                child.ended(Termination(waitStatus: status))
            }
        }
        return child.termination
    }

    /// Reads pending signals; returns the terminating ones (SIGCHLD is consumed silently).
    @discardableResult
    public func takeSignals() -> [Int32] {
        guard signalFD >= 0 else { return [] }
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
    /// signal mask, stdin /dev/null and only the descriptors asked for (posix_spawn(3)); a
    /// `.capture` or `.lines` output gets a pipe the returned child reads (`drain`).
    /// - Returns: the running child (its pid is also its process group id).
    /// - Throws: `SystemError` when a pipe cannot be made or posix_spawn fails (errno ENOENT,
    ///   EACCES, ...; EINVAL for an executable that is not an absolute path).
    public func start(_ spec: SpawnSpec) throws(SystemError) -> Child {
        var readers: [OutputReader] = []
        var childEnds: [Int32: Int32] = [:]
        defer { for fd in childEnds.values { close(fd) } }
        for (target, output) in [(Int32(2), spec.stderr), (Int32(1), spec.stdout)] where output.isRead {
            let pipe: (read: Int32, write: Int32)
            do { pipe = try cloexecPipe() } catch {
                for r in readers { close(r.fd) }
                throw error
            }
            _ = fcntl(pipe.read, F_SETFL, O_NONBLOCK)
            readers.append(OutputReader(fd: pipe.read, output: output, target: target))
            childEnds[target] = pipe.write
        }
        let pid: pid_t
        do {
            pid = try spawn(spec, stdoutPipe: childEnds[1], stderrPipe: childEnds[2])
        } catch {
            for r in readers { close(r.fd) }
            throw error
        }
        let child = Child(pid: pid, pidFD: bp_pidfd_open(pid), readers: readers)
        running[pid] = child
        return child
    }

    func spawn(_ spec: SpawnSpec, stdoutPipe: Int32?, stderrPipe: Int32?) throws(SystemError) -> pid_t {
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
        if let dir = spec.workingDirectory { posix_spawn_file_actions_addchdir_np(&actions, dir) }

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
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw SystemError("spawn", path: path, errno: rc) }
        return pid
    }

    /// Runs `spec` to its end (`start`, then `watch`).
    public func run(
        _ spec: SpawnSpec, timeout: Double? = nil, grace: Double = 10, forwardSignals: Bool = true,
        lineSink: (String) -> Void = { _ in }
    ) throws(SystemError) -> ProcessResult {
        watch(try start(spec), timeout: timeout, grace: grace, forwardSignals: forwardSignals, lineSink: lineSink)
    }

    /// Watches `child` to its end, reading its outputs.
    ///
    /// A SIGTERM/SIGINT/SIGHUP received meanwhile is forwarded to the child's process group and
    /// recorded; the child is still awaited (borg writes a checkpoint on SIGINT/SIGTERM).
    /// When `timeout` seconds (counted from the start) pass, the group gets SIGTERM, and SIGKILL
    /// `grace` seconds later.
    /// - Parameter lineSink: receives each line of a `.lines` output, already prefixed.
    /// - Parameter forwardSignals: false for the post hook, which must finish even while the
    ///   helper is being stopped (the signal is still recorded).
    public func watch(
        _ child: Child, timeout: Double? = nil, grace: Double = 10, forwardSignals: Bool = true,
        lineSink: (String) -> Void = { _ in }
    ) -> ProcessResult {
        var timedOut = false
        var interruptedBy: Int32?
        var killAt: Double?
        let deadline = timeout.map { child.started + $0 }
        while reap(child) == nil {
            let now = monotonicSeconds()
            if let d = deadline, !timedOut, now >= d {
                timedOut = true
                child.signalGroup(SIGTERM)
                killAt = now + grace
            }
            if let k = killAt, now >= k {
                child.signalGroup(SIGKILL)
                killAt = nil
            }
            var wait = 1.0
            if let d = deadline, !timedOut { wait = min(wait, d - now) }
            if let k = killAt { wait = min(wait, k - now) }
            self.wait(readable: child.openOutputs, children: [child], timeout: wait)
            for s in takeSignals() {
                interruptedBy = interruptedBy ?? s
                if forwardSignals { child.signalGroup(s) }
            }
            child.drain(lineSink)
        }
        child.finish(linger: 0, lineSink)
        return ProcessResult(
            termination: child.termination!, stdout: child.stdout, stdoutOverflowed: child.stdoutOverflowed,
            stderr: child.capturedStderr, tail: child.tail, timedOut: timedOut, interruptedBy: interruptedBy,
            seconds: monotonicSeconds() - child.started)
    }
}

/// A child `Supervisor.start` started: its pid (also its process group), its pidfd and the
/// readers of its `.capture` and `.lines` outputs.
public final class Child {
    public let pid: pid_t
    /// pidfd_open(2) of the child (readable once it ended); -1 where the kernel refused it.
    let pidFD: Int32
    let readers: [OutputReader]
    /// `monotonicSeconds()` when it was started.
    public let started: Double
    /// How it ended, once reaped (`Supervisor.reap`, `Supervisor.reapChildren`).
    public private(set) var termination: Termination?

    init(pid: pid_t, pidFD: Int32, readers: [OutputReader]) {
        self.pid = pid
        self.pidFD = pidFD
        self.readers = readers
        started = monotonicSeconds()
    }

    deinit {
        if pidFD >= 0 { close(pidFD) }
        for r in readers { close(r.fd) }
    }

    func ended(_ t: Termination) { termination = t }

    /// Sends `signal` to the child's process group (kill(2) on -pid), unless it was reaped:
    /// a reaped pid may already name another process.
    public func signalGroup(_ signal: Int32) {
        guard termination == nil else { return }
        _ = kill(-pid, signal)
    }

    /// Whether any process of its group still runs (kill(2) with signal 0; EPERM: one runs under
    /// another uid).
    public var groupAlive: Bool { kill(-pid, 0) == 0 || errno == EPERM }

    /// The read ends of its outputs that are not at their end yet.
    public var openOutputs: [Int32] { readers.filter { !$0.closed }.map(\.fd) }

    /// Reads what its outputs hold now (`OutputReader.drain`: bounded per call).
    public func drain(_ lineSink: (String) -> Void) {
        for r in readers where !r.closed { r.drain(lineSink) }
    }

    /// After the child ended: reads what is left, for at most `linger` seconds waiting for the
    /// pipes' end (a grandchild may hold them open), and ends the last lines.
    public func finish(linger: Double, _ lineSink: (String) -> Void) {
        let by = monotonicSeconds() + linger
        drain(lineSink)
        while !openOutputs.isEmpty && monotonicSeconds() < by {
            var pfds = openOutputs.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&pfds, nfds_t(pfds.count), 100)
            drain(lineSink)
        }
        for r in readers { r.finish(lineSink) }
    }

    func reader(_ target: Int32) -> OutputReader? { readers.first { $0.target == target } }
    /// A `.capture` stdout so far, at most `OutputReader.captureLimit` bytes.
    public var stdout: [UInt8] { reader(1)?.captured ?? [] }
    /// The `.capture` stdout passed `OutputReader.captureLimit`.
    public var stdoutOverflowed: Bool { reader(1)?.overflowed ?? false }
    /// A `.capture` stderr, at most `OutputReader.captureLimit` bytes.
    public var capturedStderr: [UInt8] { reader(2)?.captured ?? [] }
    /// The last bytes (at most `OutputReader.rawTailLimit`, 64 KiB) of a `.lines` stderr, as written.
    public var stderrRawTail: [UInt8] { reader(2)?.rawTail ?? [] }
    /// The last lines of its `.lines` outputs (stderr first), at most 100 each.
    public var tail: [String] { readers.flatMap(\.tail) }
}

/// Reads one non-blocking pipe of a child: collects bytes or splits lines, in bounded memory.
final class OutputReader {
    let fd: Int32
    let output: SpawnSpec.Output
    /// The child's descriptor it reads: 1 (stdout) or 2 (stderr).
    let target: Int32
    var closed = false
    var captured: [UInt8] = []
    /// More than `captureLimit` bytes arrived on a `.capture` output.
    var overflowed = false
    var lines = LineAssembler()
    var tail: [String] = []
    /// The last `rawTailLimit` bytes of a `.lines` output as they came (the server's diagnosis
    /// of ssh's messages reads them).
    var rawTail: [UInt8] = []
    /// 64 KiB, in bytes.
    static let rawTailLimit = 64 << 10
    /// 4 MiB, in bytes: what a `.capture` output may hold. Its users print one small JSON object
    /// (`borg create --json`: archive, repository, cache stats, a few KiB); past this the output
    /// is not what was expected, and a child must not make the helper grow without end.
    static let captureLimit = 4 << 20
    /// Lines kept in `tail`; with `LineAssembler`'s cut, at most about 100 x 8 KiB.
    static let tailLines = 100

    init(fd: Int32, output: SpawnSpec.Output, target: Int32 = 1) {
        self.fd = fd
        self.output = output
        self.target = target
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
                rawTail += buf[0..<n]
                if rawTail.count > OutputReader.rawTailLimit { rawTail.removeFirst(rawTail.count - OutputReader.rawTailLimit) }
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
