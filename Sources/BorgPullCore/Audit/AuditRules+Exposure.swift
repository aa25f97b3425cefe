/// What the server's key can do to the client's file system through the ssh user.
///
/// `ssh -R PATH:...` makes sshd bind a Unix socket at any PATH the server names, as the ssh user
/// (OpenSSH 9.2 channels.c `remote_open_match`: "XXX add ACLs for streamlocal", every path is
/// allowed; PermitListen and authorized_keys `permitlisten` only restrict TCP). With
/// `StreamLocalBindUnlink yes` sshd first unlinks what is at PATH (misc.c `unix_listener`), again
/// as the ssh user. So the key can create (and remove) entries exactly where the ssh user may:
/// in directories it can write and search. These rules decide that from lstat facts and the
/// access ACL, as the kernel does (fs/namei.c `generic_permission`, fs/posix_acl.c
/// `posix_acl_permission`), without capabilities (sshd's session process has none).
public enum ExposureRules {
    /// The identity the permission check is for: an account's uid and every gid it holds
    /// (primary and supplementary, getgrouplist(3)).
    public struct Credentials: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var groups: Set<UInt32>
        public init(uid: UInt32, gid: UInt32, groups: Set<UInt32>) {
            self.uid = uid
            self.gid = gid
            self.groups = groups.union([gid])
        }
    }

    /// The class of a permission check that granted access (for messages and fixes).
    public enum Grant: Sendable, Equatable {
        case owner, group(UInt32), other, aclUser, aclGroup(UInt32)
    }

    /// One entry of a POSIX access ACL (acl(5)).
    public struct ACLEntry: Sendable, Equatable {
        public enum Tag: UInt16, Sendable { case userObj = 0x01, user = 0x02, groupObj = 0x04, group = 0x08, mask = 0x10, other = 0x20 }
        public var tag: Tag
        /// rwx as 4/2/1.
        public var perm: UInt32
        /// uid or gid for `user` and `group`; unused otherwise.
        public var id: UInt32
        public init(_ tag: Tag, _ perm: UInt32, id: UInt32 = UInt32.max) {
            self.tag = tag
            self.perm = perm
            self.id = id
        }
    }

    /// Parses the `system.posix_acl_access` extended attribute: a little-endian u32 version (2),
    /// then 8-byte entries {u16 tag, u16 perm, u32 id} (linux/posix_acl_xattr.h). nil when the
    /// bytes are not such an attribute.
    public static func parseACL(_ bytes: [UInt8]) -> [ACLEntry]? {
        guard bytes.count >= 4, (bytes.count - 4) % 8 == 0 else { return nil }
        func u16(_ i: Int) -> UInt16 { UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
        guard u32(0) == 2 else { return nil }
        var out: [ACLEntry] = []
        var i = 4
        while i < bytes.count {
            guard let tag = ACLEntry.Tag(rawValue: u16(i)) else { return nil }
            out.append(ACLEntry(tag, UInt32(u16(i + 2)) & 0o7, id: u32(i + 4)))
            i += 8
        }
        return out
    }

    /// Whether `c` gets every bit of `want` (4 read, 2 write, 1 search) on `f`, and through which
    /// class. Without an ACL: the owner class if `c` owns it, else the group class if it holds
    /// the group, else other (only that class counts: root:G 0707 denies G's members). With an
    /// ACL: the kernel's order (owner; named user masked; owning and named groups, masked, any
    /// of them granting; other only when no group entry matched).
    public static func access(_ f: FileFacts, acl: [ACLEntry]?, _ c: Credentials, want: UInt32) -> Grant? {
        guard let acl, !acl.isEmpty else {
            if f.uid == c.uid { return (f.mode >> 6) & want == want ? .owner : nil }
            if c.groups.contains(f.gid) { return (f.mode >> 3) & want == want ? .group(f.gid) : nil }
            return f.mode & want == want ? .other : nil
        }
        let mask = acl.first { $0.tag == .mask }?.perm ?? 0o7
        if f.uid == c.uid {
            return (acl.first { $0.tag == .userObj }?.perm ?? (f.mode >> 6)) & want == want ? .owner : nil
        }
        if acl.contains(where: { $0.tag == .user && $0.id == c.uid }) {
            let e = acl.first { $0.tag == .user && $0.id == c.uid }!
            return e.perm & mask & want == want ? .aclUser : nil
        }
        var matched = false
        for e in acl where (e.tag == .groupObj && c.groups.contains(f.gid)) || (e.tag == .group && c.groups.contains(e.id)) {
            matched = true
            if e.perm & mask & want == want { return e.tag == .groupObj ? .group(f.gid) : .aclGroup(e.id) }
        }
        if matched { return nil }
        return (acl.first { $0.tag == .other }?.perm ?? f.mode) & want == want ? .other : nil
    }

    /// Whether `c` may create and remove entries in directory `f`: write and search (namei's
    /// `may_create` asks for both).
    public static func canCreate(_ f: FileFacts, acl: [ACLEntry]?, _ c: Credentials) -> Grant? {
        access(f, acl: acl, c, want: 0o3)
    }

    /// Whether `c` may pass through directory `f` (search): needed at every level of a path.
    public static func canSearch(_ f: FileFacts, acl: [ACLEntry]?, _ c: Credentials) -> Bool {
        access(f, acl: acl, c, want: 0o1) != nil
    }

    /// Why a directory the ssh user can write is acceptable, or nil when it is not.
    /// - Parameters:
    ///   - socketDirectory: dirname(BACKUP_SOCKET): sshd must bind the borg socket there.
    public static func allowed(_ f: FileFacts, socketDirectory: String?, _ c: Credentials) -> String? {
        if let s = socketDirectory, f.path == s { return "the socket directory" }
        // Sticky and world-writable (/tmp, /var/tmp, /dev/shm, /run/lock): anyone may create
        // there, and the sticky bit lets the ssh user unlink only its own entries (unless the
        // directory is its own).
        if f.mode & 0o1002 == 0o1002, f.uid != c.uid { return "sticky and world-writable" }
        // pam_systemd's runtime directory of the ssh user's own session: only that user's
        // sockets live there, and logind removes it when the session ends.
        let runtime = "/run/user/\(c.uid)"
        if f.path == runtime || f.path.hasPrefix(runtime + "/") { return "the ssh user's own runtime directory" }
        return nil
    }

    /// A line of /proc/PID/mountinfo (proc(5)): mount point and file system type.
    public struct Mount: Sendable, Equatable {
        public var mountPoint: String
        public var fsType: String
        public var readOnly: Bool
        public init(mountPoint: String, fsType: String, readOnly: Bool) {
            self.mountPoint = mountPoint
            self.fsType = fsType
            self.readOnly = readOnly
        }
    }

    /// Parses /proc/self/mountinfo: field 5 is the mount point (spaces, tabs, newlines and
    /// backslashes as `\040 \011 \012 \134`), field 6 the per-mount options, then optional
    /// fields up to ` - `, the file system type, the source and the super block options. Read-only
    /// when either option list has `ro`. Malformed lines are skipped.
    public static func parseMountInfo(_ text: String) -> [Mount] {
        var out: [Mount] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 7, let dash = f.firstIndex(of: "-"), dash >= 6, dash + 1 < f.count else { continue }
            let superOptions = dash + 3 < f.count ? f[dash + 3].split(separator: ",") : []
            let readOnly = f[5].split(separator: ",").contains("ro") || superOptions.contains("ro")
            out.append(Mount(mountPoint: unescapeMountPath(f[4]), fsType: f[dash + 1], readOnly: readOnly))
        }
        return out
    }

    static func unescapeMountPath(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        let u = Array(s.utf8)
        var bytes: [UInt8] = []
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "\\"), i + 3 < u.count,
                let v = UInt8(String(decoding: u[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(v)
                i += 4
            } else {
                bytes.append(u[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// How the walk treats a file system type.
    public enum MountClass: Sendable, Equatable {
        /// A local file system: walked.
        case local
        /// Kernel or virtual: not walked (no socket can be bound there, or walking it is
        /// pointless or harmful: autofs would trigger mounts).
        case virtual
        /// Network or FUSE: not walked (slow, or another host's permissions); reported.
        case remote
    }

    /// Kernel and virtual file systems: procfs, sysfs and the cgroup, debug, security and tracing
    /// file systems support no socket inodes (kernfs has no mknod); devpts and mqueue hold only
    /// their own kind of file; autofs mounts on access; lxcfs is a FUSE view of /proc.
    public static let virtualFilesystems: Set<String> = [
        "proc", "sysfs", "cgroup", "cgroup2", "devpts", "securityfs", "debugfs", "tracefs", "pstore", "bpf",
        "configfs", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc", "autofs", "efivarfs", "selinuxfs", "nsfs",
        "rpc_pipefs", "nfsd", "fuse.lxcfs"
    ]
    /// Network file systems (and every FUSE one but lxcfs): another host decides, and a walk may
    /// take minutes.
    public static let remoteFilesystems: Set<String> = [
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "lustre", "davfs", "fuse",
        "fuseblk", "gpfs", "ocfs2", "gfs2"
    ]

    public static func classify(_ fsType: String) -> MountClass {
        if virtualFilesystems.contains(fsType) { return .virtual }
        if remoteFilesystems.contains(fsType) || fsType.hasPrefix("fuse.") { return .remote }
        return .local
    }

    /// A directory the ssh user can create entries in, found by the walk.
    public struct Writable: Sendable, Equatable {
        public var facts: FileFacts
        public var grant: Grant
        public init(facts: FileFacts, grant: Grant) {
            self.facts = facts
            self.grant = grant
        }
    }

    /// What the bounded walk saw (gathered by BorgPullSystem's `WritableScan`).
    public struct Scan: Sendable, Equatable {
        /// Where the walk started (`/` for the installed system).
        public var roots: [String]
        /// Writable directories that are not allowed, first ones first, at most `listed`.
        public var writable: [Writable] = []
        /// How many such directories the walk found (can exceed `writable.count`).
        public var writableCount = 0
        /// Directories examined (lstat and ACL).
        public var directories = 0
        public var milliseconds = 0
        /// The bound that stopped the walk (e.g. "100000 directories"), nil when it finished.
        public var stoppedBy: String? = nil
        /// Network or FUSE mounts that were not walked.
        public var remote: [Mount] = []
        /// Directories root could not list (not walked below).
        public var unreadable: [String] = []
        public init(roots: [String]) { self.roots = roots }
    }

    /// How many writable directories are listed one by one.
    public static let listed = 20

    /// Findings for a walk: a FAIL per writable directory (first `listed`, then one for the
    /// rest), a WARN when a bound stopped the walk or a network mount was skipped, else one OK.
    /// - Parameters:
    ///   - user: the ssh user's name (for messages and fixes).
    ///   - primaryGID: its primary group (leaving it is no fix).
    ///   - groupName: gid to name, for messages and fixes.
    public static func findings(
        _ scan: Scan, user: String, primaryGID: UInt32,
        groupName: (UInt32) -> String?
    ) -> [Finding] {
        var out: [Finding] = []
        let what =
            "the server's key can bind a Unix socket at any name here (ssh -R) and, with StreamLocalBindUnlink yes, first remove what is there: the ssh user can create entries in this directory"
        // A write grant through group `g`: its name goes into `actual` and `fix`; leaving the
        // group is the other way out, except for the primary group.
        func throughGroup(
            _ g: UInt32, actual: (String) -> String, fix: (String) -> String, orLeave: (String) -> String
        ) -> (actual: String, fix: String) {
            let name = groupName(g) ?? String(g)
            return (actual(name), g == primaryGID ? fix(name) : "\(fix(name))   (or \(orLeave(name)))")
        }
        for w in scan.writable.prefix(listed) {
            let f = w.facts
            let dir = f.path
            let mode = FileRules.octal(f.mode)
            let actual: String
            let fix: String
            switch w.grant {
            case .owner:
                actual = "owned by \(user), mode \(mode)"
                fix = "chown root:root \(dir) && chmod go-w \(dir)"
            case .group(let g):
                (actual, fix) = throughGroup(
                    g, actual: { "group \($0) with write, mode \(mode)" }, fix: { _ in "chmod g-w \(dir)" },
                    orLeave: { "take \(user) out of the group: gpasswd -d \(user) \($0)" })
            case .other:
                actual = "writable by everyone without the sticky bit, mode \(mode)"
                fix = "chmod o-w \(dir)   (or chmod +t \(dir) if it is a shared directory like /tmp)"
            case .aclUser:
                actual = "an ACL entry for \(user) grants write"
                fix = "setfacl -x u:\(user) \(dir)"
            case .aclGroup(let g):
                (actual, fix) = throughGroup(
                    g, actual: { "an ACL entry for group \($0) grants write" }, fix: { "setfacl -x g:\($0) \(dir)" },
                    orLeave: { "gpasswd -d \(user) \($0)" })
            }
            out.append(
                Finding(
                    .fail, check: "user.writable", what: what, location: dir,
                    expected: "not writable by \(user) (only its socket directory and sticky /tmp-like directories)",
                    actual: actual, fix: fix))
        }
        if scan.writableCount > listed {
            out.append(
                Finding(
                    .fail, check: "user.writable", what: "more directories the ssh user can create entries in",
                    location: scan.roots.joined(separator: " "), expected: "none",
                    actual: "\(scan.writableCount - listed) more besides the \(listed) listed",
                    fix: "fix the listed directories, then run borgpull-check again for the next ones"))
        }
        let walked = "\(scan.directories) directories in \(scan.milliseconds) ms"
        if let bound = scan.stoppedBy {
            out.append(
                Finding(
                    .warn, check: "user.writable.bound",
                    what: "the walk for directories the ssh user can write stopped at its bound; the rest was not checked",
                    location: scan.roots.joined(separator: " "), expected: "a complete walk",
                    actual: "stopped after \(bound) (\(walked))",
                    fix: "check the rest by hand: runuser -u \(user) -- find / -xdev -type d -writable   (access(2): ACLs and read-only mounts count)"))
        }
        for m in scan.remote {
            out.append(
                Finding(
                    .warn, check: "user.writable.remote",
                    what: "a network or FUSE file system was not walked for directories the ssh user can write",
                    location: m.mountPoint, expected: "a local file system", actual: m.fsType,
                    fix: "runuser -u \(user) -- find \(m.mountPoint) -xdev -type d -writable   (no output: nothing to fix)"))
        }
        if scan.writableCount == 0 && scan.stoppedBy == nil {
            let unreadable =
                scan.unreadable.isEmpty ? "" : "; \(scan.unreadable.count) unreadable, not walked: \(scan.unreadable.prefix(3).joined(separator: " "))"
            out.append(
                Finding(
                    .ok, check: "user.writable",
                    what: "the ssh user can create entries only in its socket directory and sticky world-writable directories",
                    location: scan.roots.joined(separator: " "), expected: "no other writable directory",
                    actual: walked + unreadable))
        }
        return out
    }

    /// Findings for the ssh user's home and what is in it.
    ///
    /// sshd runs the ForceCommand as `bash -c` with SSH_CLIENT set; Debian's bash then sources
    /// ~/.bashrc, and Debian's /etc/pam.d/sshd reads ~/.pam_environment (`pam_env.so
    /// user_readenv=1`). So the home must be root's, not writable by the user, and hold nothing
    /// the user owns or can write (`install.sh` creates it root:root 0755 and empty).
    /// - Parameters:
    ///   - home: lstat of the home directory (nil: it does not exist).
    ///   - homeACL: its access ACL, if any.
    ///   - entries: the home's entries and those of its `.ssh`, symlinks followed (stat(2): what
    ///     bash or sshd would open), with the entry's own path.
    public static func checkHome(
        _ home: FileFacts?, path: String, homeACL: [ACLEntry]?, entries: [FileFacts],
        user: String, _ c: Credentials
    ) -> [Finding] {
        let loc = path
        guard let home else {
            return [
                Finding(
                    .ok, check: "user.home", what: "the ssh user has no home directory: nothing in it can change what its shell runs",
                    location: loc, expected: "root:root 0755 and empty, or absent", actual: "absent")
            ]
        }
        var out: [Finding] = []
        let fix = "chown root:root \(path) && chmod 0755 \(path)"
        if home.kind != .directory {
            out.append(
                Finding(
                    .fail, check: "user.home", what: "the ssh user's home is not a directory", location: loc,
                    expected: "directory root:root 0755", actual: home.kind.rawValue,
                    fix: "rm \(path) && install -d -o root -g root -m 0755 \(path)"))
            return out
        }
        if home.uid != 0 || canCreate(home, acl: homeACL, c) != nil {
            out.append(
                Finding(
                    .fail, check: "user.home",
                    what: "the ssh user can change its home: bash (run by sshd) sources ~/.bashrc, PAM reads ~/.pam_environment",
                    location: loc, expected: "root:root 0755", actual: "uid \(home.uid) gid \(home.gid) \(FileRules.octal(home.mode))",
                    fix: fix))
        }
        for e in entries {
            let owned = e.uid == c.uid
            guard owned || access(e, acl: nil, c, want: 0o2) != nil else { continue }
            out.append(
                Finding(
                    .fail, check: "user.home",
                    what: "the ssh user can change a file in its home that its shell or sshd reads",
                    location: e.path, expected: "not owned or writable by \(user) (the account needs nothing in its home)",
                    actual: owned ? "owned by \(user)" : "writable by \(user), \(FileRules.octal(e.mode))",
                    fix: "chown root:root \(e.path) && chmod go-w \(e.path)   (or remove it: rm -r \(e.path))"))
        }
        if out.isEmpty {
            out.append(
                Finding(
                    .ok, check: "user.home", what: "the ssh user's home is root's and holds nothing the user can change",
                    location: loc, expected: "root-owned, not writable by \(user)",
                    actual: "\(FileRules.octal(home.mode)) uid \(home.uid), \(entries.count) entries"))
        }
        return out
    }
}
