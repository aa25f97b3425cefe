import BorgPullCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Thin OS calls used by the audits (lstat, files, accounts, processes, socket peers).
/// Every call reports absence as nil instead of throwing: the audit turns that into a finding.
enum AuditOS {
    /// lstat(2) of `path` as `FileFacts`, nil if it does not exist or cannot be examined.
    static func facts(_ path: String) -> FileFacts? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        let kind: FileFacts.Kind
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFSOCK: kind = .socket
        default: kind = .other
        }
        return FileFacts(path: path, kind: kind, uid: st.st_uid, gid: st.st_gid, mode: UInt32(st.st_mode) & 0o7777)
    }

    /// Reads a regular file without following a final symlink (O_NOFOLLOW); nil on any error.
    static func read(_ path: String, limit: Int = 4 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while data.count < limit {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Names in a directory (no `.`/`..`), sorted; nil if it cannot be opened.
    static func list(_ dir: String) -> [String]? {
        guard let d = opendir(dir) else { return nil }
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

    struct Account { var name: String; var uid: UInt32; var gid: UInt32; var home: String; var shell: String }

    static func user(_ name: String) -> Account? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &pw, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return Account(name: name, uid: pw.pw_uid, gid: pw.pw_gid, home: String(cString: pw.pw_dir),
                       shell: String(cString: pw.pw_shell))
    }

    static func userName(_ uid: UInt32) -> String? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &pw, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return String(cString: pw.pw_name)
    }

    static func groupName(_ gid: UInt32) -> String? {
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 65536)
        guard getgrgid_r(gid, &gr, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return String(cString: gr.gr_name)
    }

    static func groupID(_ name: String) -> UInt32? {
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 65536)
        guard getgrnam_r(name, &gr, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return gr.gr_gid
    }

    /// Every gid of `user` (primary and supplementary), per getgrouplist(3).
    static func groups(of user: Account) -> [UInt32] {
        var n: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(n))
        if getgrouplist(user.name, user.gid, &list, &n) < 0 {
            list = [gid_t](repeating: 0, count: Int(n))
            _ = getgrouplist(user.name, user.gid, &list, &n)
        }
        return Array(list.prefix(Int(max(0, n))))
    }

    /// The /etc/shadow fields 2 (password) and 8 (expiry day) of `user`; nil if unreadable.
    static func shadow(_ user: String, file: String = "/etc/shadow") -> (readable: Bool, password: String?, expire: Int?) {
        guard let text = read(file) else { return (false, nil, nil) }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 2, f[0] == user else { continue }
            return (true, String(f[1]), f.count >= 8 ? Int(f[7]) : nil)
        }
        return (true, nil, nil)
    }

    /// Days since 1970-01-01 (shadow(5) unit).
    static func today() -> Int { Int(time(nil)) / 86400 }

    /// The result of a finished command.
    struct Output: Sendable { var status: Int32; var stdout: String; var stderr: String; var launched: Bool }

    /// A started command; `wait()` collects it. Output is read on background threads so a full
    /// pipe never blocks the child.
    final class Running: @unchecked Sendable {
        let process = Process()
        let out = Pipe(), err = Pipe()
        var launched = false
        var outData = Data(), errData = Data()
        let group = DispatchGroup()

        init(_ argv: [String], timeout: Double) {
            process.executableURL = URL(fileURLWithPath: argv[0])
            process.arguments = Array(argv.dropFirst())
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            var env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"]
            env["SYSTEMD_COLORS"] = "0"
            process.environment = env
            do { try process.run(); launched = true } catch { return }
            group.enter()
            DispatchQueue.global().async { [self] in
                outData = out.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
            group.enter()
            DispatchQueue.global().async { [self] in
                errData = err.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
            let p = process
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if p.isRunning { p.terminate() }
            }
        }

        func wait() -> Output {
            guard launched else { return Output(status: 127, stdout: "", stderr: "cannot execute", launched: false) }
            group.wait()
            process.waitUntilExit()
            return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self), launched: true)
        }
    }

    static func run(_ argv: [String], timeout: Double = 10) -> Output { Running(argv, timeout: timeout).wait() }

    /// Connects to a Unix socket and returns the peer's credentials (SO_PEERCRED), or errno.
    static func peer(of path: String) -> (uid: UInt32, pid: Int32)? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard ok == 0 else { return nil }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (socket(7)); the type needs
        // _GNU_SOURCE, which the Glibc module does not define.
        var cred: (Int32, UInt32, UInt32) = (0, 0, 0)
        var len = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 else { return nil }
        return (cred.1, cred.0)
    }
}

extension String {
    /// Without surrounding spaces, tabs, CR and LF.
    func auditTrimmed() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
