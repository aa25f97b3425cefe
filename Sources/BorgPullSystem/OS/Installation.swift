import BorgPullCore
import Glibc

/// The installation this process belongs to, from the path of its own executable.
public enum Installation {
    /// `/proc/self/exe` resolved: the relay and the sandbox re-exec must be this exact binary.
    public static func executablePath() -> String {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { readlink("/proc/self/exe", $0, p.count - 1) }
        }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : CommandLine.arguments[0]
    }

    /// `/usr` for the Debian packages' `/usr/bin/borgpull-client`, `PREFIX` for make install's
    /// `PREFIX/bin/borgpull-client`; the packaged layout for a binary in a build directory.
    public static let layout = InstallLayout.of(executable: executablePath())
}
