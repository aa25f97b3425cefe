import Glibc

/// An exclusive run lock: flock(2) on a file. The kernel releases it when the holder dies, so a
/// killed BACKUP never leaves a stale lock; the file's content (the holder's pid) is only for
/// the message.
public final class RunLock {
    let fd: Int32
    public let path: String

    public enum Failure: Error, CustomStringConvertible {
        /// Another process holds the lock; `holder` is the pid it wrote, if readable.
        case busy(path: String, holder: String?)
        case system(SystemError)

        public var description: String {
            switch self {
            case .busy(let path, let holder):
                return "another run holds the lock \(path)" + (holder.map { " (pid \($0))" } ?? "")
            case .system(let e): return e.description
            }
        }
    }

    /// Takes the lock at once or fails with `.busy` (LOCK_EX | LOCK_NB). The descriptor is
    /// close-on-exec, so no child keeps the lock after the helper exits.
    public init(path: String) throws(Failure) {
        let fd = retrying { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard fd >= 0 else { throw .system(SystemError("open", path: path)) }
        if retrying({ flock(fd, LOCK_EX | LOCK_NB) }) != 0 {
            let e = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, buf.count, 0)
            close(fd)
            if e == EWOULDBLOCK {
                let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters() : nil
                throw .busy(path: path, holder: holder?.isEmpty == false ? holder : nil)
            }
            throw .system(SystemError("flock", path: path, errno: e))
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }
}

extension String {
    func trimmingCharacters() -> String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
