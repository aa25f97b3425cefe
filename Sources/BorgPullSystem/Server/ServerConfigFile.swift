import Glibc
import BorgPullCore

/// Reading a server config file from disk.
public enum ServerConfigFile {
    /// Reads, audits and parses `path`.
    ///
    /// The file is data, but it decides which repository a client may write and which host is
    /// trusted, so when the server runs as root it is opened the safe_path way
    /// (`Files.readTrusted`: it and every directory above it owned by root and not writable by
    /// group or other, no symlink, the judged file is the read file; the same rule as the
    /// client's files). As another user it is read as a regular file without following a symlink.
    public static func load(_ path: String) throws(ServerFailure) -> ServerConfig {
        let text: String
        do throws(Files.Untrusted) {
            if geteuid() == 0 {
                text = try Files.readTrusted(path, limit: 1 << 20)
            } else {
                do { text = try Files.read(path, limit: 1 << 20) } catch {
                    throw Files.Untrusted(path: path, problem: "", fix: "", errno: error.errno)
                }
            }
        } catch {
            if error.errno != 0 && error.path == path {
                throw ServerFailure(.configError, "\(path): cannot read the server config: \(errnoText(error.errno)) (fix: pass the right file with -c FILE or BORGPULL_CONFIG=FILE; a sample is /etc/borgpull-server/borgpull.conf.example, keys in borgpull.conf(5))")
            }
            if error.problem == "not a regular file" {
                throw ServerFailure(.configError, "\(path) is not a regular file (fix: pass the config file itself with -c FILE)")
            }
            throw ServerFailure(.configError, "\(path): the server config is not safe to read as root: \(error.path == path ? "" : "\(error.path): ")\(error.problem) (fix: \(error.fix))")
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
