import Foundation

/// A test's own processes: the descendants of a process the test started, read from
/// /proc/PID/stat (parent pids; this kernel has no /proc/PID/task/TID/children). Tests find and
/// signal their own borg, ssh or socat this way, never machine-wide by name: a concurrent run's
/// processes have the same command lines.
enum ProcessTree {
    /// The pids whose parent chain reaches `root` (`root` itself excluded), in /proc order.
    static func descendants(of root: pid_t) -> [pid_t] {
        var parent: [pid_t: pid_t] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = pid_t(fields[1]) { parent[pid] = ppid }
        }
        return parent.keys.sorted().filter { pid in
            var p = parent[pid]
            var hops = 0
            while let q = p, q > 1, hops < 64 {
                if q == root { return true }
                p = parent[q]
                hops += 1
            }
            return false
        }
    }

    /// The argv of `pid` (/proc/PID/cmdline); empty for a zombie or a process that is gone.
    static func argv(_ pid: pid_t) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            .filter { !$0.isEmpty }
    }

    /// Whether `argv` holds `words` as consecutive arguments.
    static func argv(_ argv: [String], contains words: [String]) -> Bool {
        guard !words.isEmpty, argv.count >= words.count else { return false }
        return (0...(argv.count - words.count)).contains { Array(argv[$0..<($0 + words.count)]) == words }
    }

    /// The descendants of `root` whose argv `matches`.
    static func find(under root: pid_t, _ matches: ([String]) -> Bool) -> [pid_t] {
        descendants(of: root).filter { matches(argv($0)) }
    }

    /// Whether `pid` still runs a command whose argv `matches` (false once it is gone or a
    /// zombie; the match guards against a reused pid).
    static func isRunning(_ pid: pid_t, _ matches: ([String]) -> Bool) -> Bool { matches(argv(pid)) }
}
