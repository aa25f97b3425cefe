import BorgPullCore
import Glibc

/// Reading a server config file from disk.
public enum ServerConfigFile {
    /// Reads, audits and parses `path`, after the server-wide defaults file (`ServerDefaults`).
    ///
    /// The file is data, but it decides which repository a client may write and which host is
    /// trusted, so when the server runs as root it is opened the safe_path way
    /// (`Files.readTrusted`: it and every directory above it owned by root and not writable by
    /// group or other, no symlink, the judged file is the read file; the same rule as the
    /// client's files). As another user it is read as a regular file without following a symlink.
    /// The defaults file gets the same checks.
    /// - Parameters:
    ///   - defaults: the defaults file; `ServerDefaults.path` when nil, where a missing file
    ///     means the built-in defaults. A file given explicitly must exist.
    public static func load(_ path: String, defaults: String? = nil) throws(ServerFailure) -> ServerConfig {
        let d = try loadDefaults(defaults)
        let text = try readTrusted(
            path, what: "the server config",
            fix: "pass the right file with -c FILE or BORGPULL_CONFIG=FILE; a sample is /etc/borgpull-server/borgpull.conf.example, keys in borgpull.conf(5)")
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
        let text = try readTrusted(
            defaultsPath, what: "the server-wide defaults file",
            fix: "create it (root:root 0644, keys in borgpull.conf(5)) or pass the right file with --defaults FILE")
        do { return try ServerDefaults.parse(text, file: defaultsPath) } catch {
            throw ServerFailure(.configError, error.description)
        }
    }

    /// The text of a config file (at most 1 MiB): as root by `Files.readTrusted`, as another
    /// user a regular file read without following a symlink.
    static func readTrusted(_ path: String, what: String, fix: String) throws(ServerFailure) -> String {
        do throws(Files.Untrusted) {
            if geteuid() == 0 { return try Files.readTrusted(path, limit: 1 << 20) }
            do { return try Files.read(path, limit: 1 << 20) } catch {
                throw Files.Untrusted(path: path, problem: "", fix: "", errno: error.errno)
            }
        } catch {
            if error.errno != 0 && error.path == path {
                throw ServerFailure(.configError, "\(path): cannot read \(what): \(errnoText(error.errno)) (fix: \(fix))")
            }
            if error.problem == "not a regular file" {
                throw ServerFailure(.configError, "\(path) is not a regular file (fix: pass the file itself, not a directory or link)")
            }
            throw ServerFailure(
                .configError, "\(path): \(what) is not safe to read as root: \(error.path == path ? "" : "\(error.path): ")\(error.problem) (fix: \(error.fix))"
            )
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
