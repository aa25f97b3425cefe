import Glibc

/// The built-in remote shell for borg (`BORG_RSH`): connects to the forwarded socket, checks
/// the listener is the ssh user's sshd (SO_PEERCRED) before any byte flows, then copies
/// stdin → socket and socket → stdout until both directions are finished.
///
/// Half-close follows unix(7)/shutdown(2): EOF on stdin becomes `shutdown(SHUT_WR)` on the
/// socket, and EOF from the socket closes stdout, while the other direction keeps flowing.
/// All descriptors are non-blocking, so a full pipe in one direction never stalls the other.
///
/// Towards the server, bytes are held briefly so that several of borg's RPC messages travel as
/// one write (see `holdSeconds`); towards borg, every byte is passed on at once.
public enum Relay {
    /// Exit status for a refused or failed connection (the value ssh uses for its own errors).
    public static let connectionFailed: Int32 = 255

    /// Runs the relay; returns the process exit status. Messages go to stderr, which borg shows.
    public static func run(socketPath: String, peerUID: UInt32) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // A closed stdin/stdout/stderr would hand its number to the socket: fill the gaps first.
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 {
            _ = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
        }
        let sock: Int32
        do {
            sock = try UnixSocket.connect(socketPath)
            let peer = try UnixSocket.peer(sock)
            guard peer.uid == peerUID else {
                close(sock)
                warn(
                    "refusing \(socketPath): its listener runs as uid \(peer.uid) (pid \(peer.pid)), not the ssh user's uid \(peerUID); it is not sshd's forwarded socket"
                )
                return connectionFailed
            }
        } catch {
            warn("cannot reach the backup server through \(socketPath): \(error)")
            return connectionFailed
        }
        return copy(sock: sock) ? 0 : connectionFailed
    }

    static func warn(_ s: String) { StderrLog.plain("borgpull relay: \(s)") }

    /// At most this long (seconds, CLOCK_MONOTONIC) bytes from borg wait before they are written
    /// to the socket, unless `flushBytes` are pending or borg closed its end. borg's RPC writes
    /// one message per call (about 2 KiB each for small files): passed on one by one, sshd seals
    /// one SSH packet per message and the server's ssh and borg serve wake per message, about
    /// 100,000 times for a first backup of 50,000 small files. Held for 2 ms, the messages borg
    /// writes meanwhile go as one. A request borg waits on is late by at most this long.
    static let holdSeconds = 0.002
    /// Pending bytes towards the server that are written at once (a large chunk is not held).
    static let flushBytes = 1 << 16

    /// A byte queue for one direction. Written bytes are dropped from the front once they are
    /// at least 64 KiB and half the queue: a reader slower than the writer keeps the queue from
    /// ever running empty, and without that the array kept every byte ever relayed (hundreds of
    /// MB of memory for a large backup over a slow link).
    struct Pipe {
        var bytes: [UInt8] = []
        var start = 0
        var pending: Int { bytes.count - start }
        mutating func consume(_ n: Int) {
            start += n
            if start == bytes.count {
                bytes.removeAll(keepingCapacity: true); start = 0
            } else if start >= 1 << 16 && start >= bytes.count / 2 {
                bytes.removeSubrange(0..<start); start = 0
            }
        }
    }

    static func copy(sock: Int32) -> Bool {
        for fd in [0, 1, sock] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let cap = 1 << 18
        var buf = [UInt8](repeating: 0, count: cap)
        var up = Pipe(), down = Pipe()  // up: stdin -> socket, down: socket -> stdout
        var stdinEOF = false, sockEOF = false, shutDown = false, stdoutClosed = false
        var ok = true
        // When the oldest byte now held towards the server must be written (nil: none held).
        var upDue: Double? = nil
        // Held bytes wait only while more may come soon; otherwise they are written now.
        func holding(_ now: @autoclosure () -> Double) -> Bool {
            guard let due = upDue, up.pending > 0, up.pending < flushBytes, !stdinEOF else { return false }
            return now() < due
        }

        while !(shutDown && stdoutClosed) {
            let hold = holding(monotonicSeconds())
            var fds: [pollfd] = []
            var idx = (stdin: -1, sockIn: -1, sockOut: -1, stdout: -1)
            func add(_ fd: Int32, _ ev: Int32) -> Int { fds.append(pollfd(fd: fd, events: Int16(ev), revents: 0)); return fds.count - 1 }
            if !stdinEOF && up.pending < cap { idx.stdin = add(0, POLLIN) }
            if !sockEOF && down.pending < cap && !stdoutClosed { idx.sockIn = add(sock, POLLIN) }
            if up.pending > 0 && !shutDown && !hold { idx.sockOut = add(sock, POLLOUT) }
            if down.pending > 0 && !stdoutClosed { idx.stdout = add(1, POLLOUT) }
            if fds.isEmpty { break }
            // While holding, wake when the oldest held byte is due (poll(2) counts milliseconds).
            let timeout = hold ? max(1, Int32((((upDue ?? 0) - monotonicSeconds()) * 1000).rounded(.up))) : -1
            if retrying({ poll(&fds, nfds_t(fds.count), timeout) }) < 0 { ok = false; break }
            func ready(_ i: Int) -> Bool { i >= 0 && fds[i].revents != 0 }

            if ready(idx.stdin) {
                let n = retrying { read(0, &buf, cap - up.pending) }
                if n > 0 {
                    if up.pending == 0 { upDue = monotonicSeconds() + holdSeconds }
                    up.bytes += buf[0..<n]
                } else if n == 0 || errno != EAGAIN {
                    stdinEOF = true
                }
            }
            if ready(idx.sockIn) {
                // read/write, not recv/send: the seccomp policy then needs no recvfrom/sendto
                // (SIGPIPE is ignored above, so MSG_NOSIGNAL is not needed).
                let n = retrying { read(sock, &buf, cap - down.pending) }
                if n > 0 { down.bytes += buf[0..<n] } else if n == 0 || errno != EAGAIN { sockEOF = true }
            }
            if ready(idx.sockOut) || (up.pending > 0 && !shutDown && !holding(monotonicSeconds())) {
                let n = up.bytes[up.start...].withUnsafeBytes { b in retrying { write(sock, b.baseAddress, b.count) } }
                if n > 0 {
                    up.consume(n)
                    if up.pending == 0 { upDue = nil }
                } else if n < 0 && errno != EAGAIN {
                    // The server side is gone: nothing more can be sent.
                    up = Pipe(); stdinEOF = true
                }
            }
            if ready(idx.stdout) || down.pending > 0 && !stdoutClosed {
                let n = down.bytes[down.start...].withUnsafeBytes { b in retrying { write(1, b.baseAddress, b.count) } }
                if n > 0 {
                    down.consume(n)
                } else if n < 0 && errno != EAGAIN {
                    // borg closed its end: stop reading for it.
                    down = Pipe(); close(1); stdoutClosed = true; sockEOF = true
                }
            }
            if stdinEOF && up.pending == 0 && !shutDown {
                shutdown(sock, Int32(SHUT_WR))
                shutDown = true
            }
            if sockEOF && down.pending == 0 && !stdoutClosed {
                close(1)
                stdoutClosed = true
            }
        }
        close(sock)
        return ok
    }
}
