import BorgPullCore
import CLinux
import Glibc

/// The bounded walk behind borgpull-check's `user.writable`: every directory of the local file
/// systems that an account can reach (search permission on every directory above it), judged by
/// `ExposureRules` from lstat(2) and the access ACL.
///
/// Mounts come from /proc/self/mountinfo: each local, read-write mount below a root is walked
/// on its own, never crossing into another mount point; virtual ones (proc, sysfs, cgroup ...)
/// and read-only ones are skipped, network and FUSE ones are reported and skipped. A directory
/// the account cannot search is not listed (nothing below it is reachable). The walk stops at
/// `Limits` and says so.
public enum WritableScan {
    public struct Limits: Sendable, Equatable {
        public var directories: Int
        public var seconds: Double
        public init(directories: Int = 300_000, seconds: Double = 10) {
            self.directories = directories
            self.seconds = seconds
        }
    }

    /// Walks `roots` for directories `credentials` can create entries in.
    /// - Parameters:
    ///   - socketDirectory: dirname(BACKUP_SOCKET), which sshd must be able to write.
    ///   - mountInfo: the mount table (proc(5) mountinfo format).
    public static func run(
        roots: [String], credentials c: ExposureRules.Credentials, socketDirectory: String?,
        limits: Limits = Limits(), mountInfo: String = "/proc/self/mountinfo"
    ) -> ExposureRules.Scan {
        var scan = ExposureRules.Scan(roots: roots)
        let start = now()
        let deadline = start + limits.seconds
        var mounts: [String: ExposureRules.Mount] = [:]
        for m in ExposureRules.parseMountInfo(Files.readUpTo(mountInfo, limit: 4 << 20) ?? "") { mounts[m.mountPoint] = m }
        let mountPoints = Set(mounts.keys)

        func under(_ path: String, _ top: String) -> Bool { top == "/" || path == top || path.hasPrefix(top + "/") }
        /// The mount `path` is on: the longest mount point above or at it.
        func mount(of path: String) -> ExposureRules.Mount? {
            mounts.values.filter { under(path, $0.mountPoint) }.max { $0.mountPoint.count < $1.mountPoint.count }
        }
        func reachable(_ path: String) -> Bool {
            FileRules.parents(of: path).allSatisfy { p in
                guard let f = AuditOS.facts(p), f.kind == .directory else { return false }
                return ExposureRules.canSearch(f, acl: acl(p), c)
            }
        }

        var stopped = false
        var seenRemote: Set<String> = []
        for raw in roots where !stopped {
            let root = raw.count > 1 && raw.hasSuffix("/") ? String(raw.dropLast()) : raw
            let starts = [root] + mountPoints.filter { $0 != root && under($0, root) }.sorted()
            for s in starts where !stopped {
                // Below a virtual mount (e.g. /proc/sys/fs/binfmt_misc): skipped with it.
                if mounts.values.contains(where: { ExposureRules.classify($0.fsType) == .virtual && under(s, $0.mountPoint) }) { continue }
                guard let m = mount(of: s) else { continue }
                if ExposureRules.classify(m.fsType) == .remote {
                    if seenRemote.insert(m.mountPoint).inserted { scan.remote.append(m) }
                    continue
                }
                // Nothing can be created on a read-only mount (EROFS).
                if m.readOnly { continue }
                guard reachable(s) else { continue }
                walk(
                    s, mountPoints: mountPoints, c: c, socketDirectory: socketDirectory, limits: limits,
                    deadline: deadline, scan: &scan, stopped: &stopped)
            }
        }
        scan.milliseconds = Int((now() - start) * 1000)
        return scan
    }

    /// Depth-first, names sorted, from `top` down to (not into) other mount points.
    static func walk(
        _ top: String, mountPoints: Set<String>, c: ExposureRules.Credentials, socketDirectory: String?,
        limits: Limits, deadline: Double, scan: inout ExposureRules.Scan, stopped: inout Bool
    ) {
        var stack = [top]
        while let dir = stack.popLast() {
            if scan.directories >= limits.directories {
                scan.stoppedBy = "\(limits.directories) directories"
                stopped = true
                return
            }
            if scan.directories % 256 == 0, now() > deadline {
                scan.stoppedBy = "\(limits.seconds) s"
                stopped = true
                return
            }
            guard let f = AuditOS.facts(dir), f.kind == .directory else { continue }
            scan.directories += 1
            let a = acl(dir)
            if let grant = ExposureRules.canCreate(f, acl: a, c), ExposureRules.allowed(f, socketDirectory: socketDirectory, c) == nil {
                scan.writableCount += 1
                if scan.writable.count < ExposureRules.listed { scan.writable.append(.init(facts: f, grant: grant)) }
            }
            guard ExposureRules.canSearch(f, acl: a, c) else { continue }
            guard let children = subdirectories(dir) else {
                scan.unreadable.append(dir)
                continue
            }
            for name in children.reversed() {
                let child = dir == "/" ? "/\(name)" : "\(dir)/\(name)"
                if !mountPoints.contains(child) { stack.append(child) }
            }
        }
    }

    /// Names of the subdirectories of `dir` (d_type, lstat when the file system does not say),
    /// sorted; nil if it cannot be opened.
    static func subdirectories(_ dir: String) -> [String]? {
        guard let d = opendir(dir) else { return nil }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let type = e.pointee.d_type
            guard type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN) else { continue }
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            if type == UInt8(DT_UNKNOWN) {
                guard AuditOS.facts(dir == "/" ? "/\(name)" : "\(dir)/\(name)")?.kind == .directory else { continue }
            }
            out.append(name)
        }
        return out.sorted()
    }

    /// The access ACL of `path` (lgetxattr `system.posix_acl_access`); nil when it has none or
    /// the file system keeps none (ENODATA, ENOTSUP).
    static func acl(_ path: String) -> [ExposureRules.ACLEntry]? {
        var buf = [UInt8](repeating: 0, count: 512)
        var n = lgetxattr(path, "system.posix_acl_access", &buf, buf.count)
        if n < 0 && errno == ERANGE {
            let size = lgetxattr(path, "system.posix_acl_access", nil, 0)
            guard size > 0 else { return nil }
            buf = [UInt8](repeating: 0, count: size)
            n = lgetxattr(path, "system.posix_acl_access", &buf, buf.count)
        }
        guard n > 0 else { return nil }
        return ExposureRules.parseACL(Array(buf.prefix(n)))
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
