import Glibc

/// The one run lock: flock(2) on a file. The kernel releases it when the holder dies, so a killed
/// run never leaves a stale lock; the file's content (the holder's pid) is only for the message.
///
/// The file is kept (never deleted: removing a flock'ed file lets two runs hold "the" lock). Its
/// directory is opened from `/` without following a symlink (`Files.openDirectoryNoFollow`) and
/// the file below it with openat(2) `O_NOFOLLOW | O_NONBLOCK`, then judged by fstat(2) of the
/// opened descriptor: a regular file with one link, else nothing is written.
public final class RunLock {
    let fd: Int32
    public let path: String

    public enum Failure: Error, CustomStringConvertible {
        /// Another process holds the lock; `holder` is the pid it wrote (digits only), if any.
        case busy(path: String, holder: String?)
        /// errno EMLINK: the path is not a regular file with one link (`isNotRegularFile`).
        case system(SystemError)

        public var description: String {
            switch self {
            case .busy(let path, let holder):
                return "another run holds the lock \(path)" + (holder.map { " (pid \($0))" } ?? "")
            case .system(let e): return e.description
            }
        }

        /// Something other than a regular file with one link is at the path.
        public var isNotRegularFile: Bool {
            if case .system(let e) = self { return e.errno == EMLINK }
            return false
        }
    }

    /// Takes the lock (LOCK_EX | LOCK_NB) at once, or within `wait` seconds (tried every 50 ms),
    /// or fails with `.busy`. The descriptor is close-on-exec, so no child keeps the lock after
    /// the holder exits. The file is created 0600 when missing; the holder's pid is written.
    /// - Parameters:
    ///   - path: absolute; its directory must be a real directory (no symlink on the way).
    ///   - owner: when root creates the lock file, it is given to this uid/gid (fchown(2) on the
    ///     opened descriptor): the server's lock and slot files are LOCAL_USER's, so a run by hand
    ///     as root never leaves a file the units (`User=` LOCAL_USER) cannot open.
    /// - Throws: `.busy`; `.system` for open/openat (ELOOP, ENOENT, ...), for a file that is not
    ///   regular with one link (EMLINK), or flock.
    public init(path: String, wait: Double = 0, owner: (uid: uid_t, gid: gid_t)? = nil) throws(Failure) {
        let name = path.split(separator: "/").last.map(String.init) ?? ""
        let dirfd: Int32
        do { dirfd = try Files.openDirectoryNoFollow(FileRulesPath.parent(path)) } catch { throw .system(error) }
        defer { close(dirfd) }
        // O_NOFOLLOW: the directory may belong to another user (the server's LOCAL_USER); never
        // follow a link planted there. O_NONBLOCK: a FIFO planted there cannot block the open.
        var fd = retrying { openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600) }
        let created = fd >= 0
        if !created && errno == EEXIST {
            fd = retrying { openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) }
        }
        guard fd >= 0 else { throw .system(SystemError("open", path: path)) }
        var st = stat()
        // Why nlink: the lock is truncated and written (as root); a hard link planted in the
        // directory would make that another file's content.
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_nlink == 1 else {
            close(fd)
            throw .system(SystemError("open (a regular file with one link)", path: path, errno: EMLINK))
        }
        // Why: root creating the lock (or a slot file) 0600 in LOCAL_USER's directory made every
        // later run as LOCAL_USER (the units) fail with EACCES ("cannot open the lock file", exit 9).
        // Only a file this call created (O_EXCL) is given away, by descriptor after the checks
        // above; never an existing one (a file found there is not root's to give away).
        if let o = owner, created, geteuid() == 0, st.st_uid != o.uid || st.st_gid != o.gid {
            guard fchown(fd, o.uid, o.gid) == 0 else {
                let e = SystemError("fchown", path: path)
                close(fd)
                throw .system(e)
            }
        }
        let giveUpAt = monotonicSeconds() + wait
        while retrying({ flock(fd, LOCK_EX | LOCK_NB) }) != 0 {
            let e = errno
            if e == EWOULDBLOCK && monotonicSeconds() < giveUpAt {
                usleep(50_000)
                continue
            }
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, buf.count, 0)
            close(fd)
            if e == EWOULDBLOCK {
                let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).filter(\.isNumber) : ""
                throw .busy(path: path, holder: holder.isEmpty ? nil : holder)
            }
            throw .system(SystemError("flock", path: path, errno: e))
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        self.fd = fd
        self.path = path
    }

    /// Empties the file and releases the lock (closing on deinit releases it too).
    public func release() {
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
    }

    deinit { close(fd) }
}
