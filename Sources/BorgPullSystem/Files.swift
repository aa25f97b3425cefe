import Glibc
import BorgPullCore

/// File-system helpers that keep errno and never follow a symlink where that matters.
public enum Files {
    /// lstat(2) of `path` as `FileFacts`; nil when it does not exist.
    /// - Parameter follow: stat(2) instead (a final symlink is followed; a dangling one is nil).
    /// - Throws: `SystemError` for any other failure (EACCES, ELOOP ...).
    public static func facts(_ path: String, follow: Bool = false) throws(SystemError) -> FileFacts? {
        var st = stat()
        guard (follow ? stat(path, &st) : lstat(path, &st)) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SystemError(follow ? "stat" : "lstat", path: path)
        }
        return FileFacts(path: path, kind: kind(st.st_mode), uid: st.st_uid, gid: st.st_gid, mode: st.st_mode & 0o7777)
    }

    static func kind(_ mode: mode_t) -> FileFacts.Kind {
        switch mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFSOCK: return .socket
        default: return .other
        }
    }

    /// Reads a whole regular file without following a final symlink (O_NOFOLLOW).
    /// - Parameter limit: refuse files larger than this many bytes.
    public static func read(_ path: String, limit: Int = 4 << 20) throws(SystemError) -> String {
        let fd = retrying { open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY) }
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = retrying { Glibc.read(fd, &chunk, chunk.count) }
            if n < 0 { throw SystemError("read", path: path) }
            if n == 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > limit { throw SystemError("read (file too large)", path: path, errno: EFBIG) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads at most `limit` bytes of `path` (O_NOFOLLOW); nil on any error. For /proc files and
    /// audits, where a truncated read is fine and absence is not an exception.
    public static func readUpTo(_ path: String, limit: Int) -> String? {
        let fd = retrying { open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let n = retrying { Glibc.read(fd, &chunk, min(chunk.count, limit - bytes.count)) }
            if n < 0 { return nil }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `contents` to `path` atomically: a temporary file in the same directory, fsync,
    /// fchown/fchmod, rename(2). Readers see the old or the new file, never half of one.
    public static func writeAtomically(_ path: String, contents: String, mode: mode_t, uid: UInt32? = nil, gid: UInt32? = nil) throws(SystemError) {
        let tmp = "\(path).tmp.\(getpid())"
        let fd = retrying { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard fd >= 0 else { throw SystemError("open", path: tmp) }
        var ok = true
        var failure = SystemError("write", path: tmp, errno: 0)
        let bytes = Array(contents.utf8)
        var off = 0
        while ok && off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { buf in retrying { Glibc.write(fd, buf.baseAddress, buf.count) } }
            if n <= 0 { ok = false; failure = SystemError("write", path: tmp) } else { off += n }
        }
        // fchown only when needed: in a setgid directory the group is already right, and the
        // hardened unit has no CAP_CHOWN.
        var st = stat()
        if ok && fstat(fd, &st) == 0 && ((uid != nil && st.st_uid != uid!) || (gid != nil && st.st_gid != gid!)),
           fchown(fd, uid ?? UInt32.max, gid ?? UInt32.max) != 0 {
            ok = false; failure = SystemError("fchown", path: tmp)
        }
        if ok && fchmod(fd, mode) != 0 { ok = false; failure = SystemError("fchmod", path: tmp) }
        if ok && fsync(fd) != 0 { ok = false; failure = SystemError("fsync", path: tmp) }
        close(fd)
        if ok && rename(tmp, path) != 0 { ok = false; failure = SystemError("rename", path: path) }
        if !ok {
            unlink(tmp)
            throw failure
        }
    }

    /// Creates `path` (one level) with `mode`, or leaves an existing directory alone.
    /// - Returns: true if it was created.
    @discardableResult
    public static func makeDirectory(_ path: String, mode: mode_t) throws(SystemError) -> Bool {
        if mkdir(path, mode) == 0 {
            // mkdir(2) applies the umask; set the exact mode.
            guard chmod(path, mode) == 0 else { throw SystemError("chmod", path: path) }
            return true
        }
        if errno == EEXIST { return false }
        throw SystemError("mkdir", path: path)
    }

    /// `mkdir -p` for root-owned parents (mode 0755), used for state and socket parents.
    public static func makeParents(_ path: String) throws(SystemError) {
        for p in FileRules.parents(of: path).reversed() where p != "/" {
            try makeDirectory(p, mode: 0o755)
        }
    }

    /// Names in a directory, without `.` and `..` (opendir(3)); empty if it cannot be read.
    public static func entries(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    /// Gives `path` and everything below it to `uid`:`gid` with lchown(2): symlinks are changed
    /// themselves, never followed, and the walk does not descend through them.
    public static func chownTree(_ path: String, uid: UInt32, gid: UInt32) throws(SystemError) {
        guard lchown(path, uid, gid) == 0 else { throw SystemError("lchown", path: path) }
        guard let f = try facts(path), f.kind == .directory else { return }
        for name in entries(path) { try chownTree("\(path)/\(name)", uid: uid, gid: gid) }
    }

    /// Whether `path` exists (lstat: a dangling symlink exists).
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}
