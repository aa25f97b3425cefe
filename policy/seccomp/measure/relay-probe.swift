// Measurement stand-in for the built-in relay (`borgpull-client relay`), used only to learn the
// syscalls a Swift executable needs for: runtime start-up, socket(AF_UNIX), connect,
// getsockopt(SO_PEERCRED), poll, read, write, shutdown. Not part of the product.
// Build: swiftc -O relay-probe.swift -o relay-probe    Use: BORG_RSH="relay-probe /path/sock"
import Glibc

let args = CommandLine.arguments
guard args.count >= 2 else { fputs("usage: relay-probe SOCKET [ignored ssh args]\n", stderr); exit(2) }
let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
guard fd >= 0 else { perror("socket"); exit(1) }
var addr = sockaddr_un()
addr.sun_family = sa_family_t(AF_UNIX)
let path = Array(args[1].utf8)
withUnsafeMutableBytes(of: &addr.sun_path) { buf in
    for (i, b) in path.prefix(buf.count - 1).enumerated() { buf[i] = b }
}
let rc = withUnsafePointer(to: &addr) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
}
guard rc == 0 else { perror("connect"); exit(1) }
var cred: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)  // struct ucred (needs _GNU_SOURCE in C)
var len = socklen_t(12)
guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 else { perror("getsockopt"); exit(1) }
if let want = getenv("RELAY_PROBE_PEER_UID"), let uid = UInt32(String(cString: want)), cred.uid != uid {
    fputs("relay-probe: peer uid \(cred.uid) != \(uid)\n", stderr); exit(1)
}
var buf = [UInt8](repeating: 0, count: 65536)
var inOpen = true, sockOpen = true
while sockOpen {
    var fds = [pollfd(fd: inOpen ? 0 : -1, events: Int16(POLLIN), revents: 0),
               pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
    if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; perror("poll"); exit(1) }
    if fds[0].revents != 0 {
        let n = read(0, &buf, buf.count)
        if n <= 0 { inOpen = false; shutdown(fd, Int32(SHUT_WR)) } else {
            var off = 0
            while off < n { let w = buf.withUnsafeBytes { write(fd, $0.baseAddress! + off, n - off) }; if w <= 0 { exit(1) }; off += w }
        }
    }
    if fds[1].revents != 0 {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { sockOpen = false } else {
            var off = 0
            while off < n { let w = buf.withUnsafeBytes { write(1, $0.baseAddress! + off, n - off) }; if w <= 0 { exit(1) }; off += w }
        }
    }
}
exit(0)
