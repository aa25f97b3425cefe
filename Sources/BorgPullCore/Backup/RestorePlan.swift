// `borgpull-client restore`, as pure decisions: which archive, which paths (in borg's form),
// where to (a target below STATE_DIR/restore, --to DIR, or the original places), what the
// restore sandbox may write, borg extract's argv, and how borg's --log-json lines become a
// count of restored and failed items. BorgPullSystem's `BackupRunner.restore` performs it.
// Sources: borg 1.2 usage `borg extract`, "Logging" (--log-json), `borg list --short`.

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the admin asked for on the command line.
public struct RestoreRequest: Equatable, Sendable {
    public var archive: String?
    public var latest: Bool
    public var anyHost: Bool
    public var to: String?
    public var inPlace: Bool
    public var dryRun: Bool
    public var force: Bool
    public var paths: [String]

    public init(
        archive: String? = nil, latest: Bool = false, anyHost: Bool = false, to: String? = nil,
        inPlace: Bool = false, dryRun: Bool = false, force: Bool = false, paths: [String] = []
    ) {
        self.archive = archive
        self.latest = latest
        self.anyHost = anyHost
        self.to = to
        self.inPlace = inPlace
        self.dryRun = dryRun
        self.force = force
        self.paths = paths
    }
}

/// Why a restore is refused before borg runs: the status, what is wrong and the fix.
public struct RestoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: ClientExit
    public var problem: String
    public var fix: String
    public init(_ status: ClientExit, _ problem: String, fix: String) {
        self.status = status
        self.problem = problem
        self.fix = fix
    }
    /// A refused request: the configuration-error status.
    public init(_ problem: String, fix: String) { self.init(.configError, problem, fix: fix) }
    public var description: String { "restore refused: \(problem) (fix: \(fix))" }
}

/// What a target directory looks like (lstat), as the system layer found it.
public enum TargetState: Equatable, Sendable {
    case missing
    case emptyDirectory
    case nonEmptyDirectory
    case symlink
    case other
}

/// A decided restore.
public struct RestorePlan: Equatable, Sendable {
    public var archive: String
    /// Paths as borg stores them (no leading slash); empty = the whole archive (never in place).
    public var paths: [String]
    /// The directory borg extract runs in: the target, or `/` for an in-place restore.
    public var target: String
    public var inPlace: Bool
    public var dryRun: Bool

    /// A PATH as borg stores it: `/etc/hosts` and `etc/hosts` mean the same. Refuses empty
    /// paths, `.`/`..` components and `/` itself (the whole archive is "no PATH").
    public static func borgPath(_ p: String) throws(RestoreError) -> String {
        let parts = p.split(separator: "/", omittingEmptySubsequences: true)
        if parts.isEmpty {
            throw RestoreError(
                "PATH `\(p)` names the root, not a path in the archive", fix: "give paths such as etc/hosts, or none for the whole archive (with --to)")
        }
        if parts.contains(where: { $0 == ".." || $0 == "." }) {
            throw RestoreError("PATH `\(p)` contains . or ..", fix: "give the path as the archive stores it, e.g. home/alice/notes.txt")
        }
        return parts.joined(separator: "/")
    }

    /// True for archive names this host makes: `PREFIX-<timestamp>` (as `pruneGlob`), checkpoints too.
    public static func isOwnArchive(_ name: String, prefix: String) -> Bool {
        guard name.hasPrefix(prefix + "-") else { return false }
        let rest = name.dropFirst(prefix.count + 1)
        let stamp = rest.prefix(19)
        guard stamp.count == 19 else { return false }
        let shape = Array("0000-00-00T00:00:00")
        for (c, s) in zip(stamp, shape) {
            let fits = s == "0" ? ("0"..."9").contains(c) : c == s
            if !fits { return false }
        }
        let tail = rest.dropFirst(19)
        return tail.isEmpty || tail.hasPrefix(".checkpoint")
    }

    /// Decides archive, paths and target.
    /// - Parameters:
    ///   - archives: the repository's archive names (`borg list --short`), oldest first.
    ///   - stateDirectory, prefix: STATE_DIR and ARCHIVE_PREFIX.
    ///   - stamp: a unique suffix for the default target (time and pid).
    /// - Throws: `RestoreError` for a missing or foreign archive, an in-place restore without
    ///   PATHs, --to together with --in-place, a relative --to, or bad PATHs.
    public static func decide(
        _ r: RestoreRequest, archives: [String], stateDirectory: String, prefix: String,
        stamp: String
    ) throws(RestoreError) -> RestorePlan {
        if r.latest == (r.archive != nil) {
            throw RestoreError(
                "give exactly one of --archive NAME and --latest",
                fix: "borgpull-client restore --latest --to DIR PATH..., or --archive NAME (borgpull-client borg list)")
        }
        if r.inPlace && r.to != nil {
            throw RestoreError("--to and --in-place exclude each other", fix: "drop one of them")
        }
        var paths: [String] = []
        for p in r.paths { paths.append(try borgPath(p)) }
        if r.inPlace && paths.isEmpty {
            throw RestoreError(
                "--in-place without PATHs would overwrite the whole machine with the archive",
                fix: "name the paths to put back, e.g. restore --latest --in-place /etc/hosts")
        }
        let archive: String
        if let name = r.archive {
            guard archives.contains(name) else {
                throw RestoreError("no archive `\(name)` in the repository", fix: "pick one from `borgpull-client borg list --short`, or use --latest")
            }
            if !isOwnArchive(name, prefix: prefix) && !r.anyHost {
                throw RestoreError(
                    "archive `\(name)` is not this host's (ARCHIVE_PREFIX=\(prefix) makes \(prefix)-<timestamp>)",
                    fix: "add --any-host to restore another host's archive on purpose")
            }
            archive = name
        } else {
            // Names sort as times: PREFIX-YYYY-MM-DDTHH:MM:SS. Checkpoints are not complete archives.
            guard let newest = archives.filter({ isOwnArchive($0, prefix: prefix) && !$0.contains(".checkpoint") }).max() else {
                throw RestoreError(
                    "the repository has no archive of this host (\(prefix)-<timestamp>)",
                    fix: "check ARCHIVE_PREFIX in borg_env, or give --archive NAME --any-host")
            }
            archive = newest
        }
        let target: String
        if r.inPlace {
            target = "/"
        } else if let to = r.to {
            guard to.hasPrefix("/"), !to.split(separator: "/").contains("..") else {
                throw RestoreError("--to \(to) is not an absolute path without ..", fix: "give an absolute directory, e.g. --to /var/restore/today")
            }
            let parts = to.split(separator: "/")
            if parts.isEmpty {
                throw RestoreError("--to / would restore over the whole machine", fix: "use --in-place with PATHs, or another directory")
            }
            target = "/" + parts.joined(separator: "/")
        } else {
            target = "\(stateDirectory)/restore/\(archive)-\(stamp)"
        }
        return RestorePlan(archive: archive, paths: paths, target: target, inPlace: r.inPlace, dryRun: r.dryRun)
    }

    /// Refuses a target that would merge silently or follow a link: a symlink (always: Landlock
    /// and the extract must not follow it), a non-directory, a directory that already has files
    /// (unless `force`), or a target inside one of the selected paths' original places (borg
    /// would restore over the very tree it writes into, unless `force`).
    public func checkTarget(_ state: TargetState, force: Bool) throws(RestoreError) {
        if inPlace { return }
        switch state {
        case .symlink:
            throw RestoreError("the target \(target) is a symlink", fix: "give the real directory it points to")
        case .other:
            throw RestoreError("the target \(target) exists and is not a directory", fix: "choose another --to, or move it away")
        case .nonEmptyDirectory where !force:
            throw RestoreError(
                "the target \(target) already contains files; a restore never merges silently", fix: "choose an empty or new directory, or add --force to merge"
            )
        default: break
        }
        for p in paths where target == "/" + p || target.hasPrefix("/" + p + "/") {
            if !force {
                throw RestoreError(
                    "the target \(target) lies inside /\(p), which this restore selects", fix: "restore to a directory outside /\(p), or add --force")
            }
        }
    }

    /// The directories the restore sandbox may write beneath: the target (`--to`), or for an
    /// in-place restore the deepest existing directory above each path (borg creates missing
    /// parents and replaces the item itself). Never `/`.
    /// - Parameter isDirectory: whether an absolute path is an existing real directory.
    public func writableDirectories(isDirectory: (String) -> Bool) throws(RestoreError) -> [String] {
        guard inPlace else { return [target] }
        var dirs: [String] = []
        for p in paths {
            var parts = p.split(separator: "/").dropLast()
            while !parts.isEmpty && !isDirectory("/" + parts.joined(separator: "/")) { parts = parts.dropLast() }
            if parts.isEmpty {
                throw RestoreError(
                    "/\(p) lies directly below /, so an in-place restore would need write access to all of /",
                    fix: "restore the paths inside it (e.g. /\(p)/...), or restore --to a directory and move it")
            }
            let d = "/" + parts.joined(separator: "/")
            if !dirs.contains(d) { dirs.append(d) }
        }
        return dirs
    }

    /// `borg extract --lock-wait N --log-json --list [--dry-run] ::ARCHIVE -- PATHS...`: run in
    /// `target`. `--log-json` makes every listed item and every warning one JSON line on stderr
    /// (`RestoreOutcome`); `--` keeps a path starting with `-` a path.
    public func extractArguments(borgBinary: String, lockWait: Int) -> [String] {
        var argv = [borgBinary, "extract", "--lock-wait", String(lockWait), "--log-json", "--list"]
        if dryRun { argv.append("--dry-run") }
        argv.append("::" + archive)
        argv.append("--")
        return argv + paths
    }
}

/// What borg extract reported: items listed (restored, or would be with --dry-run) and the
/// warnings/errors, each of which is one item (or pattern) that was not restored.
public struct RestoreOutcome: Equatable, Sendable {
    public var restored: [String] = []
    public var problems: [String] = []
    /// stderr lines that were not borg's JSON (logged as they are).
    public var other: [String] = []

    public init() {}

    struct Line: Decodable {
        var type: String?
        var name: String?
        var levelname: String?
        var message: String?
    }

    /// Feeds one stderr line of `borg extract --log-json --list`.
    public mutating func add(_ line: String) {
        guard let l = try? JSONDecoder().decode(Line.self, from: Data(line.utf8)), l.type == "log_message" else {
            if line.contains(where: { !$0.isWhitespace }) { other.append(line) }
            return
        }
        let message = l.message ?? ""
        if l.name == "borg.output.list" {
            restored.append(message)
        } else if ["WARNING", "ERROR", "CRITICAL"].contains(l.levelname ?? "") {
            problems.append(message)
        }
    }

    /// The status of a restore whose borg ended with `rc`: ok only when borg said 0 and
    /// reported no problem; problems (borg's warning status 1 included) are `restoreIncomplete`.
    public func status(rc: Int32) -> ClientExit {
        if rc == 0 && problems.isEmpty { return .ok }
        if rc == 0 || rc == 1 { return .restoreIncomplete }
        return .borgFailed
    }
}

/// The `--json` record of a restore (key-sorted, like BACKUP's).
public struct RestoreRecord: Codable, Equatable, Sendable {
    public struct Status: Codable, Equatable, Sendable {
        public var code: Int32
        public var name: String
        public var message: String
    }
    public var host: String
    public var started: String
    public var finished: String
    public var archive: String?
    public var target: String?
    public var inPlace: Bool
    public var dryRun: Bool
    public var restored: Int
    public var failed: Int
    public var status: Status

    public init(
        host: String, started: String, finished: String, archive: String?, target: String?, inPlace: Bool,
        dryRun: Bool, restored: Int, failed: Int, status: ClientExit, message: String
    ) {
        self.host = host
        self.started = started
        self.finished = finished
        self.archive = archive
        self.target = target
        self.inPlace = inPlace
        self.dryRun = dryRun
        self.restored = restored
        self.failed = failed
        self.status = Status(code: status.rawValue, name: status.name, message: message)
    }

    enum CodingKeys: String, CodingKey {
        case host, started, finished, archive, target, restored, failed, status
        case inPlace = "in_place", dryRun = "dry_run"
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
