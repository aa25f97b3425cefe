import BorgPullCore
import CLinux
import Glibc

/// A failed system call: which operation, on what, and errno's text.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String?
    public var errno: Int32

    public init(_ operation: String, path: String? = nil, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        let what = path.map { "\(operation) \($0)" } ?? operation
        return "\(what): \(String(cString: strerror(errno)))"
    }
}

/// Retries a call interrupted by a signal (EINTR).
@discardableResult
func retrying<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let r = body()
        if r == -1 && errno == EINTR { continue }
        return r
    }
}

/// A pipe whose two ends are close-on-exec (pipe2(2) with O_CLOEXEC): a spawned child gets an
/// end only where it is handed over explicitly.
/// - Returns: the read end and the write end; the caller closes both.
/// - Throws: `SystemError` (`pipe2`, errno EMFILE or ENFILE).
func cloexecPipe() throws(SystemError) -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    guard pipe2(&fds, O_CLOEXEC) == 0 else { throw SystemError("pipe2") }
    return (fds[0], fds[1])
}

/// Users and groups from NSS (getpwnam_r(3), getpwuid_r(3), getgrnam_r(3), getgrgid_r(3), through `nssLookup`).
public struct Account: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
    public var home: String
    public var shell: String

    public init(name: String, uid: UInt32, gid: UInt32, home: String, shell: String) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
        self.shell = shell
    }

    /// Looks up a user by name; nil if there is no such user.
    public static func user(_ name: String) -> Account? {
        nssLookup(
            passwd(), { getpwnam_r(name, $0, $1, $2, $3) },
            read: {
                Account(name: name, uid: $0.pw_uid, gid: $0.pw_gid, home: String(cString: $0.pw_dir), shell: String(cString: $0.pw_shell))
            })
    }

    /// The account of the effective uid (getpwuid_r(3)).
    public static func current() -> Account? {
        nssLookup(
            passwd(), { getpwuid_r(geteuid(), $0, $1, $2, $3) },
            read: {
                Account(
                    name: String(cString: $0.pw_name), uid: $0.pw_uid, gid: $0.pw_gid,
                    home: String(cString: $0.pw_dir), shell: String(cString: $0.pw_shell))
            })
    }

    /// Looks up a group id by name.
    public static func groupID(_ name: String) -> UInt32? {
        nssLookup(group(), { getgrnam_r(name, $0, $1, $2, $3) }, read: { $0.gr_gid })
    }

    /// The name of the user `uid` (getpwuid_r(3)).
    public static func userName(_ uid: UInt32) -> String? {
        nssLookup(passwd(), { getpwuid_r(uid, $0, $1, $2, $3) }, read: { String(cString: $0.pw_name) })
    }

    /// The name of the group `gid` (getgrgid_r(3)).
    public static func groupName(_ gid: UInt32) -> String? {
        nssLookup(group(), { getgrgid_r(gid, $0, $1, $2, $3) }, read: { String(cString: $0.gr_name) })
    }
}

/// The one getpw*_r/getgr*_r buffer loop: calls `lookup` (entry, buffer, size, result) with a
/// buffer of 16 KiB that doubles while it answers ERANGE, up to `maxBytes` (getpwnam_r(3): a
/// group with many members needs more than any fixed size), and reads the entry while its
/// strings (which point into the buffer) are valid.
/// - Returns: `read(entry)`; nil when there is no such entry, on any other error, or past `maxBytes`.
func nssLookup<Entry, T>(
    _ empty: Entry, maxBytes: Int = 1 << 20,
    _ lookup: (UnsafeMutablePointer<Entry>, UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>) -> Int32,
    read: (Entry) -> T
) -> T? {
    var size = 16384
    while size <= maxBytes {
        var entry = empty
        var result: UnsafeMutablePointer<Entry>?
        var buffer = [CChar](repeating: 0, count: size)
        var again = false
        let value: T? = buffer.withUnsafeMutableBufferPointer { buf in
            let rc = lookup(&entry, buf.baseAddress!, buf.count, &result)
            if rc == ERANGE { again = true; return nil }
            guard rc == 0, result != nil else { return nil }
            return read(entry)
        }
        if !again { return value }
        size *= 2
    }
    return nil
}

/// Host name as borg's `{hostname}` placeholder sees it (short name, gethostname(2)).
public func shortHostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, buf.count) == 0 else { return "localhost" }
    let full = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(full.split(separator: ".").first ?? Substring(full))
}
