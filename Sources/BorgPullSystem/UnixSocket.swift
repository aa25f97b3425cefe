import Glibc
import CLinux

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
        var c = bp_ucred()
        guard bp_peer_cred(fd, &c) == 0 else { throw SystemError("getsockopt(SO_PEERCRED)") }
        return Peer(pid: c.pid, uid: c.uid, gid: c.gid)
    }

    /// Whether something listens on `path` (connects and closes at once).
    /// Connecting through a forwarded socket makes the server start one `borg serve` that sees
    /// EOF and exits; that is the price of telling a stale socket from a live one.
    public static func isListening(_ path: String) -> Result<Peer, SystemError> {
        do {
            let fd = try connect(path)
            defer { close(fd) }
            return .success(try peer(fd))
        } catch {
            return .failure(error)
        }
    }
}
