import Glibc
import BorgPullCore

/// Reading a server config file from disk.
public enum ServerConfigFile {
    /// Reads, audits and parses `path`.
    ///
    /// The file is data, but it decides which repository a client may write and which host is
    /// trusted, so when the server runs as root it must be owned by root and not writable by
    /// group or other (the same rule as the client's files).
    public static func load(_ path: String) throws(ServerFailure) -> ServerConfig {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ServerFailure(.configError, "\(path): cannot read the server config: \(errnoText()) (fix: pass the right file with -c FILE or BORGPULL_CONFIG=FILE; a sample is /etc/borgpull-server/borgpull.conf.example, keys in borgpull.conf(5))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ServerFailure(.configError, "\(path) is not a regular file (fix: pass the config file itself with -c FILE)")
        }
        if geteuid() == 0 {
            if st.st_uid != 0 {
                throw ServerFailure(.configError, "\(path) is owned by uid \(st.st_uid), but root reads it (fix: chown root:root \(path))")
            }
            if st.st_mode & 0o022 != 0 {
                throw ServerFailure(.configError, "\(path) is writable by group or other (fix: chmod go-w \(path))")
            }
        }
        guard let text = Files.readUpTo(path, limit: 1 << 20) else {
            throw ServerFailure(.configError, "\(path): cannot read the server config: \(errnoText()) (fix: chmod 0644 \(path))")
        }
        do {
            return try ServerConfig.parse(text, file: path)
        } catch {
            throw ServerFailure(.configError, error.description)
        }
    }

    /// An absolute form of `path` (relative to the current directory), before the server changes
    /// to `/`.
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return path }
        let cwd = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (cwd == "/" ? "" : cwd) + "/" + path
    }
}
