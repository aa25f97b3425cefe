import BorgPullCore
import Glibc

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

    /// Writes `contents` to `path` atomically: `writeAtomically(in:...)` in its directory (a
    /// temporary file, fchown/fchmod, fsync, rename(2)). Readers see the old or the new file.
    public static func writeAtomically(_ path: String, contents: String, mode: mode_t, uid: UInt32? = nil, gid: UInt32? = nil) throws(SystemError) {
        let parent = FileRules.parents(of: path).first ?? "/"
        let dir = retrying { open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard dir >= 0 else { throw SystemError("open", path: parent) }
        defer { close(dir) }
        try writeAtomically(
            in: dir, dirPath: parent, name: String(path.split(separator: "/").last ?? ""), contents: contents,
            mode: mode, uid: uid, gid: gid)
    }

    /// Writes `bytes` to a **new** file `path`, root's with `mode`: the parent is opened with
    /// `openDirectoryNoFollow` (no symlink anywhere on the way), the file with
    /// `openat(O_CREAT|O_EXCL|O_NOFOLLOW)` (an existing file or symlink is never written
    /// through or replaced: EEXIST), then fchmod and fsync. A parent that group or other may
    /// write without the sticky bit is refused (EPERM): someone could swap the file afterwards.
    /// On a failed write the new file is removed again. open(2) O_EXCL, unlinkat(2).
    public static func createExclusive(_ path: String, bytes: [UInt8], mode: mode_t) throws(SystemError) {
        let parts = path.split(separator: "/")
        guard path.hasPrefix("/"), let name = parts.last.map(String.init), name != "." && name != ".." else {
            throw SystemError("create (an absolute path of a file)", path: path, errno: EINVAL)
        }
        let dir = try openDirectoryNoFollow("/" + parts.dropLast().joined(separator: "/"))
        defer { close(dir) }
        var st = stat()
        guard fstat(dir, &st) == 0 else { throw SystemError("fstat", path: path) }
        if st.st_mode & 0o022 != 0 && st.st_mode & 0o1000 == 0 {
            throw SystemError("create in a directory others may write (not sticky)", path: path, errno: EPERM)
        }
        let fd = retrying { openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw SystemError("create (a new file, never an existing one)", path: path) }
        var failure: SystemError? = nil
        var off = 0
        while failure == nil && off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { buf in retrying { Glibc.write(fd, buf.baseAddress, buf.count) } }
            if n <= 0 { failure = SystemError("write", path: path) } else { off += n }
        }
        if failure == nil && fchmod(fd, mode) != 0 { failure = SystemError("fchmod", path: path) }
        if failure == nil && fsync(fd) != 0 { failure = SystemError("fsync", path: path) }
        close(fd)
        if let failure {
            unlinkat(dir, name, 0)
            throw failure
        }
    }

    /// Opens the directory `path` (absolute) by walking from `/` one component at a time with
    /// `openat(O_DIRECTORY|O_NOFOLLOW)`: no symlink anywhere in the path is followed, so a root
    /// process acting on the descriptor acts on the directory the path names now, never on
    /// something a symlink planted in a parent points to. openat(2), OpenSSH `safe_path`.
    /// - Throws: `SystemError` (ELOOP/ENOTDIR for a symlink or non-directory on the way).
    public static func openDirectoryNoFollow(_ path: String) throws(SystemError) -> Int32 {
        guard path.hasPrefix("/") else { throw SystemError("open (not an absolute path)", path: path, errno: EINVAL) }
        var fd = retrying { open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError("open", path: "/") }
        for part in path.split(separator: "/") where part != "." {
            let next = openRealDirectory(String(part), in: fd)
            let e = errno
            close(fd)
            guard next >= 0 else { throw SystemError("openat (a real directory, no symlink)", path: path, errno: e) }
            fd = next
        }
        return fd
    }

    /// A file a root process refuses to trust, with the component that failed and the fix.
    public struct Untrusted: Error, CustomStringConvertible, Sendable {
        /// The file, or the directory above it that failed.
        public var path: String
        /// e.g. "owned by uid 1000, not root", "not a regular file", "cannot open: ...".
        public var problem: String
        public var fix: String
        /// errno of a failed open/openat/read, 0 for a judgement.
        public var errno: Int32 = 0

        public var description: String { "\(path): \(problem) (fix: \(fix))" }
    }

    /// Opens `path` for reading the way OpenSSH's `safe_path` trusts a file (sshd(8), auth.c):
    /// every directory from `/` down, and the file, owned by root (or one of `owners`) and not
    /// writable by group or other. It walks by descriptor: each directory is opened with
    /// openat(2) `O_PATH|O_DIRECTORY|O_NOFOLLOW` below the one judged before and judged by
    /// fstat(2) of that descriptor; the file is opened `O_RDONLY|O_NOFOLLOW|O_NONBLOCK` below the
    /// last one and judged by fstat of the opened descriptor, so the judged file is the read file
    /// (no symlink anywhere, no swap between check and read, a FIFO cannot block).
    /// - Parameter owners: uids besides root that may own the file and its directories.
    /// - Returns: the descriptor of the regular file (close-on-exec); the caller closes it.
    /// - Throws: `Untrusted` naming the component: ELOOP/ENOTDIR for a symlink on the way,
    ///   "owned by uid N, not root", "writable by group or other (mode M)", "not a regular file".
    public static func openTrusted(_ path: String, owners: Set<UInt32> = []) throws(Untrusted) -> Int32 {
        guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw Untrusted(path: path, problem: "not an absolute path without ..", fix: "use the file's absolute path", errno: EINVAL)
        }
        func judge(_ fd: Int32, _ at: String, directory: Bool) throws(Untrusted) {
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                let e = Glibc.errno
                close(fd)
                throw Untrusted(path: at, problem: "fstat failed: \(String(cString: strerror(e)))", fix: "check the file", errno: e)
            }
            var problem: String?
            if !directory && (st.st_mode & S_IFMT) != S_IFREG {
                problem = "not a regular file"
            } else if st.st_uid != 0 && !owners.contains(st.st_uid) {
                problem = "owned by uid \(st.st_uid), not root"
            } else if st.st_mode & (S_IWGRP | S_IWOTH) != 0 {
                problem = "writable by group or other (mode \(String(st.st_mode & 0o7777, radix: 8)))"
            }
            guard let problem else { return }
            close(fd)
            // A sticky world-writable directory (/tmp) is shared by design: the file must move.
            let fix =
                directory && st.st_mode & 0o1002 == 0o1002
                ? "move \(path) out of \(at) (a shared sticky directory; do not chmod it), e.g. below /etc"
                : "chown root:root \(at); chmod go-w \(at)"
            throw Untrusted(path: at, problem: directory ? "a directory above the file is \(problem)" : problem, fix: fix)
        }
        var dirfd = retrying { open("/", openPath | O_DIRECTORY | O_CLOEXEC) }
        guard dirfd >= 0 else { throw Untrusted(path: "/", problem: "cannot open", fix: "check /", errno: Glibc.errno) }
        try judge(dirfd, "/", directory: true)
        let parts = path.split(separator: "/").filter { $0 != "." }.map(String.init)
        var at = ""
        for (i, part) in parts.enumerated() {
            at += "/" + part
            let last = i == parts.count - 1
            let flags = last ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC : openPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
            let next = retrying { openat(dirfd, part, flags) }
            let e = Glibc.errno
            close(dirfd)
            guard next >= 0 else {
                let fix = e == ELOOP || e == ENOTDIR ? "point to the file itself, not through a symlink" : "check the path in the configuration"
                throw Untrusted(path: at, problem: "cannot open: \(String(cString: strerror(e)))", fix: fix, errno: e)
            }
            try judge(next, at, directory: !last)
            dirfd = next
        }
        return dirfd
    }

    /// Reads the file `openTrusted` opened (at most `limit` bytes, else `Untrusted`).
    public static func readTrusted(_ path: String, limit: Int, owners: Set<UInt32> = []) throws(Untrusted) -> String {
        let fd = try openTrusted(path, owners: owners)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = retrying { Glibc.read(fd, &buffer, buffer.count) }
            if n < 0 {
                let e = Glibc.errno
                throw Untrusted(path: path, problem: "read failed: \(String(cString: strerror(e)))", fix: "check the file", errno: e)
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > limit {
                throw Untrusted(path: path, problem: "larger than \(limit) bytes", fix: "point to the right file, not something else")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Creates the directory `path` (one level) with exactly `mode` and, when given, `owner`, or
    /// leaves an existing one alone. The parent is opened with `openDirectoryNoFollow`, the new
    /// directory made with mkdirat(2) and set with fchmod/fchown on its own descriptor (mkdir
    /// applies the umask; a path-based chmod would follow a symlink swapped in meanwhile).
    /// - Returns: true if it was created.
    @discardableResult
    public static func makeDirectory(_ path: String, mode: mode_t, owner: (uid: UInt32, gid: UInt32)? = nil) throws(SystemError) -> Bool {
        let parentPath = FileRules.parents(of: path).first ?? "/"
        let name = String(path.split(separator: "/").last ?? "")
        let parent = try openDirectoryNoFollow(parentPath)
        defer { close(parent) }
        guard mkdirat(parent, name, 0o700) == 0 else {
            if errno == EEXIST { return false }
            throw SystemError("mkdir", path: path)
        }
        let fd = openRealDirectory(name, in: parent)
        guard fd >= 0 else { throw SystemError("openat", path: path) }
        defer { close(fd) }
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 { throw SystemError("fchown", path: path) }
        guard fchmod(fd, mode) == 0 else { throw SystemError("fchmod", path: path) }
        return true
    }

    /// Sets the owner (when given) and mode of the existing real directory `path`, through a
    /// descriptor from `openDirectoryNoFollow` (fchown(2), fchmod(2)): never through a symlink.
    public static func setDirectory(_ path: String, owner: (uid: UInt32, gid: UInt32)?, mode: mode_t?) throws(SystemError) {
        let fd = try openDirectoryNoFollow(path)
        defer { close(fd) }
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 { throw SystemError("fchown", path: path) }
        if let mode, fchmod(fd, mode) != 0 { throw SystemError("fchmod", path: path) }
    }

    /// The first existing directory above `path` that is not a real directory (lstat) or that
    /// the audit's parent rule (`FileRules.checkParent`: root's, not group/other-writable)
    /// refuses; nil when every parent is trusted. Where SETUP creates and chowns, only root may
    /// be able to change the path (OpenSSH `safe_path`).
    public static func untrustedParent(of path: String) -> String? {
        for p in FileRules.parents(of: path) {
            guard let f = try? facts(p) else { continue }
            if f.kind != .directory || !FileRules.checkParent(f, of: path).isEmpty { return p }
        }
        return nil
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

    /// `O_PATH` (open(2)) and `AT_EMPTY_PATH` (fchownat(2)): Linux values from
    /// <asm-generic/fcntl.h> and <linux/fcntl.h> (the same on x86_64 and aarch64), declared by
    /// glibc only under _GNU_SOURCE, which the Glibc module is built without.
    static let openPath: Int32 = 0o10000000
    static let atEmptyPath: Int32 = 0x1000

    /// Gives the directory `path` and everything below it to `uid`:`gid`, walking by file
    /// descriptor so that nothing another user swaps in during the walk is ever changed.
    ///
    /// Each entry is opened with `openat(dirfd, name, O_PATH|O_NOFOLLOW)`, judged by `fstat` of
    /// that descriptor, and changed with `fchownat(fd, "", AT_EMPTY_PATH)`: the inode that was
    /// judged is the inode that is changed, even if the name is replaced a moment later by a
    /// symlink (a symlink is changed itself, never followed). Directories are entered with
    /// `openat(O_DIRECTORY|O_NOFOLLOW)` and checked to be the inode judged before.
    ///
    /// The walk stops at the first surprise and changes nothing more: a regular file with more
    /// than one link (a hard link to a file elsewhere, e.g. /etc/shadow), a device node, FIFO or
    /// socket, another file system (a mount point), an entry that changed under the walk, or a
    /// tree deeper than 64 levels. Sources: openat(2), fchownat(2), OpenSSH `safe_path`.
    /// - Throws: `SystemError` naming the entry and what was wrong (ELOOP, EXDEV, EMLINK, ...).
    public static func chownTree(_ path: String, uid: UInt32, gid: UInt32) throws(SystemError) {
        let fd = openRealDirectory(path)
        guard fd >= 0 else { throw SystemError("open (a real directory, no symlink)", path: path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError("fstat", path: path) }
        try chownDirectory(fd, path: path, device: st.st_dev, uid: uid, gid: gid, depth: 0)
    }

    private static func chownDirectory(
        _ dirfd: Int32, path: String, device: dev_t, uid: UInt32, gid: UInt32,
        depth: Int
    ) throws(SystemError) {
        guard depth < 64 else { throw SystemError("refusing \(path): more than 64 levels deep", errno: ELOOP) }
        guard fchown(dirfd, uid, gid) == 0 else { throw SystemError("fchown", path: path) }
        for name in try entries(of: dirfd, path: path) {
            let child = "\(path)/\(name)"
            let fd = retrying { openat(dirfd, name.bytes, openPath | O_NOFOLLOW | O_CLOEXEC) }
            guard fd >= 0 else { throw SystemError("openat", path: child) }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw SystemError("fstat", path: child) }
            // Why: a mount point below the base dir is not borg's; its files are not ours to give away.
            guard st.st_dev == device else { throw SystemError("refusing \(child): another file system", errno: EXDEV) }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                let sub = openRealDirectory(name.bytes, in: dirfd)
                guard sub >= 0 else { throw SystemError("openat (a real directory, no symlink)", path: child) }
                defer { close(sub) }
                var now = stat()
                guard fstat(sub, &now) == 0 else { throw SystemError("fstat", path: child) }
                // Why: the name was swapped between the two opens; never enter what was not judged.
                guard now.st_ino == st.st_ino, now.st_dev == st.st_dev else {
                    throw SystemError("refusing \(child): it changed during the walk", errno: ESTALE)
                }
                try chownDirectory(sub, path: child, device: device, uid: uid, gid: gid, depth: depth + 1)
            case S_IFREG, S_IFLNK:
                // Why: a second link means the inode also lives elsewhere (a hard link to a
                // root-owned file planted by the runner); giving it away would give that file away.
                if st.st_nlink > 1 {
                    throw SystemError(
                        "refusing \(child): \(st.st_mode & S_IFMT == S_IFREG ? "a regular file" : "a symlink") with \(st.st_nlink) links (a hard link to one elsewhere)",
                        errno: EMLINK)
                }
                guard fchownat(fd, "", uid, gid, atEmptyPath) == 0 else { throw SystemError("fchownat", path: child) }
            default:
                // Why: borg keeps only directories, files and symlinks in its base dir; a device
                // node given to the runner would be raw access to that device.
                throw SystemError("refusing \(child): not a directory, regular file or symlink", errno: EPERM)
            }
        }
    }

    /// A directory entry's name as the kernel gave it: its bytes (NUL-terminated, passed to
    /// openat/fstatat as they are, so a name that is not UTF-8 still names the same entry) and a
    /// printable form for messages.
    struct EntryName: CustomStringConvertible {
        let bytes: [CChar]
        var description: String {
            LogText.sanitize(String(decoding: bytes.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// Names in the directory open as `dirfd` (without `.` and `..`), read through a duplicate
    /// of the descriptor (fdopendir(3) takes ownership of the one it is given).
    static func entries(of dirfd: Int32, path: String) throws(SystemError) -> [EntryName] {
        let copy = dup(dirfd)
        guard copy >= 0 else { throw SystemError("dup", path: path) }
        guard let d = fdopendir(copy) else {
            let e = SystemError("fdopendir", path: path)
            close(copy)
            throw e
        }
        defer { closedir(d) }
        rewinddir(d)
        var out: [EntryName] = []
        while let e = readdir(d) {
            let bytes = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { p in Array(UnsafeBufferPointer(start: p, count: strlen(p) + 1)) }
            }
            if bytes != [46, 0] && bytes != [46, 46, 0] { out.append(EntryName(bytes: bytes)) }
        }
        return out
    }

    /// Bytes of the regular files below the directory `path` (st_size, hard links counted once
    /// per name), never following a symlink; nil when `path` is not a readable real directory.
    public static func treeBytes(_ path: String) -> Int64? {
        let fd = openRealDirectory(path)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return treeBytes(fd, path: path, depth: 0)
    }

    private static func treeBytes(_ dirfd: Int32, path: String, depth: Int) -> Int64? {
        guard depth < 64, let names = try? entries(of: dirfd, path: path) else { return nil }
        var total: Int64 = 0
        for name in names {
            var st = stat()
            guard fstatat(dirfd, name.bytes, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFREG: total += Int64(st.st_size)
            case S_IFDIR:
                let sub = openRealDirectory(name.bytes, in: dirfd)
                guard sub >= 0 else { continue }
                total += treeBytes(sub, path: "\(path)/\(name)", depth: depth + 1) ?? 0
                close(sub)
            default: break
            }
        }
        return total
    }

    /// The first directory at or below `path` (a real directory, walked by descriptor, no
    /// symlink followed) that others may write (o+w) or that is sticky, like /tmp; nil when
    /// there is none. A tree of more than `limit` directories counts as one (its path ends in
    /// "..."): it is too large to vouch for.
    public static func openDirectory(atOrBelow path: String, limit: Int = 10_000) -> String? {
        let fd = openRealDirectory(path)
        guard fd >= 0 else { return path }
        defer { close(fd) }
        var seen = 0
        return openDirectory(fd, path: path, seen: &seen, limit: limit)
    }

    private static func openDirectory(_ dirfd: Int32, path: String, seen: inout Int, limit: Int) -> String? {
        var st = stat()
        guard fstat(dirfd, &st) == 0 else { return path }
        if st.st_mode & (S_IWOTH | S_ISVTX) != 0 { return path }
        seen += 1
        if seen > limit { return "\(path)/..." }
        guard let names = try? entries(of: dirfd, path: path) else { return path }
        for name in names {
            var child = stat()
            guard fstatat(dirfd, name.bytes, &child, AT_SYMLINK_NOFOLLOW) == 0, child.st_mode & S_IFMT == S_IFDIR else { continue }
            let sub = openRealDirectory(name.bytes, in: dirfd)
            guard sub >= 0 else { return "\(path)/\(name)" }
            defer { close(sub) }
            if let found = openDirectory(sub, path: "\(path)/\(name)", seen: &seen, limit: limit) { return found }
        }
        return nil
    }

    /// Opens `name` (relative to the directory `dirfd`, or absolute) as a real directory for
    /// reading: O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC, so a symlink in its last component fails with
    /// ELOOP or ENOTDIR instead of being followed (openat(2)); retried on EINTR.
    /// - Returns: the descriptor, or -1 with errno set.
    static func openRealDirectory(_ name: UnsafePointer<CChar>, in dirfd: Int32 = AT_FDCWD) -> Int32 {
        retrying { openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }

    /// Whether `path` exists (lstat: a dangling symlink exists).
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}
