import Glibc
import BorgPullCore

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

/// Users and groups from NSS (getpwnam_r(3), getgrnam_r(3)).
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
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &pw, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return Account(name: name, uid: pw.pw_uid, gid: pw.pw_gid, home: String(cString: pw.pw_dir),
                       shell: String(cString: pw.pw_shell))
    }

    /// The account of the effective uid (getpwuid_r(3)).
    public static func current() -> Account? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(geteuid(), &pw, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return Account(name: String(cString: pw.pw_name), uid: pw.pw_uid, gid: pw.pw_gid,
                       home: String(cString: pw.pw_dir), shell: String(cString: pw.pw_shell))
    }

    /// Looks up a group id by name.
    public static func groupID(_ name: String) -> UInt32? {
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &gr, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return gr.gr_gid
    }
}

/// Host name as borg's `{hostname}` placeholder sees it (short name, gethostname(2)).
public func shortHostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, buf.count) == 0 else { return "localhost" }
    let full = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(full.split(separator: ".").first ?? Substring(full))
}
