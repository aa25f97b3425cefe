import BorgPullCore
import CLinux
import Glibc

/// Files in a directory held open by descriptor (from `Files.openDirectoryNoFollow`): every
/// name is resolved with openat(2)/renameat(2) relative to that descriptor, with O_NOFOLLOW,
/// so a symlink another user plants in the directory (or swaps into the path above it) is
/// never followed by the writer.
extension Files {
    /// Replaces `name` in `dir` atomically: a new temporary `.NAME.tmp.PID` (O_EXCL), written,
    /// fchown'ed (when `uid`/`gid` differ), fchmod'ed, fsync'ed, then renameat(2) over `name`.
    /// Readers see the old or the new file, never half of one; a symlink at `name` is replaced,
    /// not followed.
    /// - Throws: `SystemError` naming `dirPath/NAME`; the temporary file is removed.
    public static func writeAtomically(
        in dir: Int32, dirPath: String, name: String, contents: String, mode: mode_t,
        uid: UInt32? = nil, gid: UInt32? = nil
    ) throws(SystemError) {
        let tmp = ".\(name).tmp.\(getpid())"
        let shown = "\(dirPath)/\(name)"
        _ = unlinkat(dir, tmp, 0)
        let fd = retrying { openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard fd >= 0 else { throw SystemError("open", path: "\(dirPath)/\(tmp)") }
        var failure: SystemError?
        if !writeAll(fd, Array(contents.utf8)) { failure = SystemError("write", path: shown) }
        if failure == nil { failure = setOwnerAndMode(fd, path: shown, mode: mode, uid: uid, gid: gid) }
        if failure == nil && fsync(fd) != 0 { failure = SystemError("fsync", path: shown) }
        close(fd)
        if failure == nil && renameat(dir, tmp, dir, name) != 0 { failure = SystemError("rename", path: shown) }
        if let failure {
            _ = unlinkat(dir, tmp, 0)
            throw failure
        }
    }

    /// Appends `line` (one newline-terminated record) to `name` in `dir` with one write(2) on an
    /// O_APPEND descriptor, so lines of concurrent writers never interleave. When the file has
    /// reached `rotateAt` bytes it is first renamed to `rotateTo` (replacing that one). A file
    /// that does not end in a newline (a write cut by a crash) gets one first, so only the
    /// damaged line is lost. A new file gets `mode` and `uid`:`gid`.
    /// - Throws: `SystemError`; also when `name` is not a regular file with one link (a hard
    ///   link planted there would make the append change another file).
    public static func appendLine(
        in dir: Int32, dirPath: String, name: String, line: String, mode: mode_t,
        uid: UInt32? = nil, gid: UInt32? = nil, rotateTo: String, rotateAt: Int
    ) throws(SystemError) {
        let shown = "\(dirPath)/\(name)"
        func openChecked() throws(SystemError) -> (fd: Int32, size: Int) {
            let fd = retrying { openat(dir, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600) }
            guard fd >= 0 else { throw SystemError("open", path: shown) }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 1 else {
                close(fd)
                throw SystemError("open (a regular file with one link)", path: shown, errno: EPERM)
            }
            if let e = setOwnerAndMode(fd, path: shown, mode: mode, uid: uid, gid: gid) {
                close(fd)
                throw e
            }
            return (fd, Int(st.st_size))
        }
        var (fd, size) = try openChecked()
        if size >= rotateAt {
            close(fd)
            guard renameat(dir, name, dir, rotateTo) == 0 else { throw SystemError("rename", path: shown) }
            (fd, size) = try openChecked()
        }
        defer { close(fd) }
        var bytes = Array(line.utf8)
        if size > 0 {
            var last: UInt8 = 0
            let rfd = retrying { openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
            if rfd >= 0 {
                if pread(rfd, &last, 1, off_t(size - 1)) == 1 && last != 10 { bytes.insert(10, at: 0) }
                close(rfd)
            }
        }
        guard writeAll(fd, bytes) else { throw SystemError("write", path: shown) }
        guard fsync(fd) == 0 else { throw SystemError("fsync", path: shown) }
    }

    /// The last `limit` bytes of the regular file `name` in `dir` (O_NOFOLLOW); nil when it does
    /// not exist. `partialFirst` is true when the text starts inside the file (its first line
    /// is then a fragment).
    public static func readTail(in dir: Int32, dirPath: String, name: String, limit: Int) throws(SystemError) -> (text: String, partialFirst: Bool)? {
        let fd = retrying { openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw SystemError("open", path: "\(dirPath)/\(name)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw SystemError("open (a regular file)", path: "\(dirPath)/\(name)", errno: EINVAL)
        }
        let size = Int(st.st_size)
        let start = max(0, size - limit)
        var bytes = [UInt8](repeating: 0, count: size - start)
        var got = 0
        while got < bytes.count {
            let n = bytes.withUnsafeMutableBytes { b in retrying { pread(fd, b.baseAddress! + got, b.count - got, off_t(start + got)) } }
            if n < 0 { throw SystemError("read", path: "\(dirPath)/\(name)") }
            if n == 0 { break }
            got += n
        }
        return (String(decoding: bytes[0..<got], as: UTF8.self), start > 0)
    }

    /// Writes all of `bytes` to `fd` (write(2), retried on EINTR and short writes).
    /// - Returns: false when a write fails (errno set) or writes nothing.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { buf in retrying { Glibc.write(fd, buf.baseAddress, buf.count) } }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// fchown only when needed (in a setgid directory the group is already right, and the
    /// hardened units have no CAP_CHOWN), then fchmod.
    static func setOwnerAndMode(_ fd: Int32, path: String, mode: mode_t, uid: UInt32?, gid: UInt32?) -> SystemError? {
        var st = stat()
        if fstat(fd, &st) == 0, (uid != nil && st.st_uid != uid!) || (gid != nil && st.st_gid != gid!),
            fchown(fd, uid ?? UInt32.max, gid ?? UInt32.max) != 0
        {
            return SystemError("fchown", path: path)
        }
        if st.st_mode & 0o7777 != mode && fchmod(fd, mode) != 0 { return SystemError("fchmod", path: path) }
        return nil
    }
}

extension Files {
    /// A new anonymous file (memfd_create(2), close-on-exec) holding `bytes`, positioned at its
    /// start: a child's stdin that cannot block the writer whether or not the child reads it.
    /// The caller closes it. Throws `SystemError` naming memfd_create, write or lseek.
    public static func memoryFile(_ bytes: [UInt8], name: String = "borgpull-stdin") throws(SystemError) -> Int32 {
        let fd = bp_memfd(name)
        guard fd >= 0 else { throw SystemError("memfd_create") }
        guard writeAll(fd, bytes) else {
            let e = SystemError("write (memfd)")
            close(fd)
            throw e
        }
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            close(fd)
            throw SystemError("lseek (memfd)")
        }
        return fd
    }
}
