/// One result of an audit (borgpull-check, and the audit BACKUP runs first).
///
/// A finding is data: severity, what was checked, where, what was expected, what was found and
/// the fix as a command a person can paste.
public struct Finding: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable, Comparable {
        case ok = "OK", warn = "WARN", fail = "FAIL"
        var rank: Int { self == .ok ? 0 : self == .warn ? 1 : 2 }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }
    public var severity: Severity
    /// Stable identifier of the check, e.g. `file.owner`.
    public var check: String
    /// What was checked, in words.
    public var what: String
    /// The file, directory, user or setting concerned.
    public var location: String
    public var expected: String
    public var actual: String
    /// A command or edit that fixes it (empty for OK).
    public var fix: String

    public init(
        _ severity: Severity, check: String, what: String, location: String,
        expected: String, actual: String, fix: String = ""
    ) {
        self.severity = severity
        self.check = check
        self.what = what
        self.location = location
        self.expected = expected
        self.actual = actual
        self.fix = fix
    }
}

/// What `lstat(2)` says about a path, as the audit rules need it.
public struct FileFacts: Sendable, Equatable {
    public enum Kind: String, Sendable { case regular, directory, symlink, socket, other }
    public var path: String
    public var kind: Kind
    public var uid: UInt32
    public var gid: UInt32
    /// Permission bits only (`st_mode & 0o7777`).
    public var mode: UInt32

    public init(path: String, kind: Kind, uid: UInt32, gid: UInt32, mode: UInt32) {
        self.path = path
        self.kind = kind
        self.uid = uid
        self.gid = gid
        self.mode = mode
    }
}

/// Ownership and permission rules for files that decide what runs as root.
///
/// The rule is OpenSSH's `safe_path()` (misc.c): the file and every directory above it up to `/`
/// must be owned by root and not writable by group or other; otherwise someone other than root
/// could replace what root later reads or runs.
public enum FileRules {
    /// Octal text of a mode, e.g. `0640`.
    public static func octal(_ mode: UInt32) -> String {
        let s = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    /// The chain of directories above `path`, nearest first, ending with `/`.
    public static func parents(of path: String) -> [String] {
        var parts = path.split(separator: "/").map(String.init)
        var out: [String] = []
        while !parts.isEmpty {
            parts.removeLast()
            out.append("/" + parts.joined(separator: "/"))
        }
        return out
    }

    /// Findings for one security-relevant file or directory (`facts` from lstat).
    /// - Parameters:
    ///   - secret: the file holds a secret, so group/other may not read it either.
    ///   - role: words for the message, e.g. "config file", "hook".
    public static func check(_ f: FileFacts, role: String, secret: Bool = false) -> [Finding] {
        var out: [Finding] = []
        if f.kind == .symlink {
            out.append(
                Finding(
                    .fail, check: "file.symlink", what: "\(role) is a symbolic link", location: f.path,
                    expected: "a regular file owned by root", actual: "symlink",
                    fix: "cp --remove-destination \"$(readlink -f \(f.path))\" \(f.path)"))
            return out
        }
        if f.uid != 0 {
            out.append(
                Finding(
                    .fail, check: "file.owner", what: "\(role) must be owned by root", location: f.path,
                    expected: "uid 0", actual: "uid \(f.uid)", fix: "chown root:root \(f.path)"))
        }
        if f.mode & 0o6000 != 0 && f.kind != .directory {
            out.append(
                Finding(
                    .fail, check: "file.setid", what: "\(role) has the setuid or setgid bit", location: f.path,
                    expected: "no setuid/setgid bit", actual: octal(f.mode), fix: "chmod ug-s \(f.path)"))
        }
        if f.mode & 0o022 != 0 {
            out.append(
                Finding(
                    .fail, check: "file.writable", what: "\(role) is writable by group or other", location: f.path,
                    expected: "no group/other write", actual: octal(f.mode), fix: "chmod go-w \(f.path)"))
        }
        if secret && f.mode & 0o077 != 0 {
            out.append(
                Finding(
                    .fail, check: "file.secret", what: "\(role) holds a secret but group or other can access it",
                    location: f.path, expected: "0600", actual: octal(f.mode), fix: "chmod 0600 \(f.path)"))
        }
        return out
    }

    /// Findings for a parent directory of a security-relevant file (safe_path rule).
    /// A sticky, world-writable directory such as /tmp is still a FAIL: anyone may create there.
    public static func checkParent(_ f: FileFacts, of child: String) -> [Finding] {
        var out: [Finding] = []
        if f.uid != 0 {
            out.append(
                Finding(
                    .fail, check: "dir.owner", what: "a directory above \(child) is not owned by root",
                    location: f.path, expected: "uid 0", actual: "uid \(f.uid)", fix: "chown root \(f.path)"))
        }
        if f.mode & 0o022 != 0 {
            out.append(
                Finding(
                    .fail, check: "dir.writable", what: "a directory above \(child) is writable by group or other",
                    location: f.path, expected: "no group/other write", actual: octal(f.mode),
                    // A sticky world-writable directory (/tmp) is shared by design:
                    // closing it would break the system; the file must move instead.
                    fix: f.mode & 0o1002 == 0o1002
                        ? "move \(child) out of \(f.path) (a shared sticky directory; do not chmod it), e.g. below /etc or /usr/local/share"
                        : "chmod go-w \(f.path)"))
        }
        return out
    }
}
