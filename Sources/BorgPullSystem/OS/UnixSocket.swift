import CLinux
import Glibc

/// Client side of a path-based Unix stream socket (unix(7)).
public enum UnixSocket {
    /// The credentials of the process that created the listening socket (SO_PEERCRED, socket(7)).
    public struct Peer: Sendable, Equatable {
        public var pid: Int32
        public var uid: UInt32
        public var gid: UInt32
    }

    /// Connects to `path`; returns the connected descriptor (close-on-exec).
    /// - Throws: `SystemError` (ECONNREFUSED: a socket file with no listener, i.e. stale).
    public static func connect(_ path: String) throws(SystemError) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw SystemError("connect (path too long for sockaddr_un)", path: path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                retrying { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SystemError("connect", path: path, errno: e)
        }
        return fd
    }

    /// SO_PEERCRED of a connected socket.
    public static func peer(_ fd: Int32) throws(SystemError) -> Peer {
        var c = borgpull_ucred()
        guard borgpull_peer_cred(fd, &c) == 0 else { throw SystemError("getsockopt(SO_PEERCRED)") }
        return Peer(pid: c.pid, uid: c.uid, gid: c.gid)
    }

    /// Whether a socket bound to `path` is listening in this network namespace, read from
    /// /proc/net/unix (proc(5): flags __SO_ACCEPTCON 00010000) without connecting. False when
    /// not listed, which includes "listening, but in another network namespace".
    public static func listedAsListening(_ path: String) -> Bool {
        guard let text = Files.readUpTo("/proc/net/unix", limit: 8 << 20) else { return false }
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 8, String(f[7]) == path else { continue }
            if String(f[3]) == "00010000" { return true }
        }
        return false
    }

    /// Whether something listens on `path` (connects and closes at once).
    /// Connecting through a forwarded socket makes the server start one `borg serve` that sees
    /// EOF and exits; that is the price of telling a stale socket from a live one.
    ///
    /// With `as`, the probe runs with that effective uid/gid (seteuid(2)), then returns to root:
    /// under the hardened unit root has no CAP_DAC_OVERRIDE and may not connect to the ssh
    /// user's 0660 socket, while the socket's owner may.
    public static func isListening(_ path: String, as identity: (uid: UInt32, gid: UInt32)? = nil) -> Result<Peer, SystemError> {
        if let identity, geteuid() == 0 {
            guard setegid(identity.gid) == 0 else { return .failure(SystemError("setegid")) }
            guard seteuid(identity.uid) == 0 else {
                let e = SystemError("seteuid")
                _ = setegid(0)
                return .failure(e)
            }
        }
        defer {
            if identity != nil && getuid() == 0 {
                _ = seteuid(0)
                _ = setegid(0)
            }
        }
        do {
            let fd = try connect(path)
            defer { close(fd) }
            return .success(try peer(fd))
        } catch {
            return .failure(error)
        }
    }
}
