import Glibc
import BorgPullCore

/// Reading a server config file from disk.
public enum ServerConfigFile {
    /// Reads, audits and parses `path`, after the server-wide defaults file (`ServerDefaults`).
    ///
    /// The file is data, but it decides which repository a client may write and which host is
    /// trusted, so when the server runs as root it must be owned by root and not writable by
    /// group or other (the same rule as the client's files). The defaults file gets the same checks.
    /// - Parameters:
    ///   - defaults: the defaults file; `ServerDefaults.path` when nil, where a missing file
    ///     means the built-in defaults. A file given explicitly must exist.
    public static func load(_ path: String, defaults: String? = nil) throws(ServerFailure) -> ServerConfig {
        let d = try loadDefaults(defaults)
        let text = try readTrusted(path, what: "the server config", fix: "pass the right file with -c FILE or BORGPULL_CONFIG=FILE; a sample is /etc/borgpull-server/borgpull.conf.example, keys in borgpull.conf(5)")
        do {
            return try ServerConfig.parse(text, file: path, defaults: d)
        } catch {
            throw ServerFailure(.configError, error.description)
        }
    }

    /// The server-wide defaults file (`ServerDefaults`): `path`, or `ServerDefaults.path` when
    /// nil, where a missing file means the built-in defaults. Same trust checks as a config.
    public static func loadDefaults(_ path: String?) throws(ServerFailure) -> ServerDefaults {
        let defaultsPath = path ?? ServerDefaults.path
        guard path != nil || access(defaultsPath, F_OK) == 0 || errno != ENOENT else { return ServerDefaults() }
        let text = try readTrusted(defaultsPath, what: "the server-wide defaults file", fix: "create it (root:root 0644, keys in borgpull.conf(5)) or pass the right file with --defaults FILE")
        do { return try ServerDefaults.parse(text, file: defaultsPath) } catch {
            throw ServerFailure(.configError, error.description)
        }
    }

    /// The text of a config file that root may trust: a regular file, when run as root owned by
    /// root and not group/other-writable.
    static func readTrusted(_ path: String, what: String, fix: String) throws(ServerFailure) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ServerFailure(.configError, "\(path): cannot read \(what): \(errnoText()) (fix: \(fix))")
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
            throw ServerFailure(.configError, "\(path): cannot read \(what): \(errnoText()) (fix: chmod 0644 \(path))")
        }
        return text
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
