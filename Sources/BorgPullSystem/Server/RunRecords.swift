import BorgPullCore
import Glibc

/// What the server keeps of every run of a client: its `RunRecord` appended to
/// `STATE_DIR/history.jsonl`, then the metrics textfile derived from that history
/// (`PROMETHEUS_TEXTFILE_DIR/borgpull-REPO_NAME.prom`). History first: the metrics are read
/// from it, so both always agree.
///
/// Both are written by descriptor (`Files.openDirectoryNoFollow`, openat/renameat with
/// O_NOFOLLOW). The history belongs to LOCAL_USER, mode 0600 in STATE_DIR (LOCAL_USER's, 0750):
/// readable by root and LOCAL_USER only. Why LOCAL_USER's and not root's: COMPACT and CHECK
/// append to it after they dropped to LOCAL_USER for good, and LOCAL_USER owns the repository
/// the history describes anyway.
public enum RunRecords {
    /// Keeps `record` of a run of `config`. Never fails the run: a problem is one warning in
    /// `log`, naming the file and the fix.
    public static func keep(_ record: RunRecord, config c: ServerConfig, log: (String, JournalLine.Priority) -> Void) {
        guard let local = Account.user(c.localUser) else { return }
        var history = RunHistory(records: [record])
        do {
            try ServerMaintenance.prepareStateDirectory(c, local)
            let dir = try openStateDirectory(c, local)
            defer { close(dir) }
            let owner: UInt32? = geteuid() == 0 ? local.uid : nil
            try Files.appendLine(
                in: dir, dirPath: c.stateDir, name: RunHistory.fileName, line: record.json(), mode: 0o600,
                uid: owner, gid: owner.map { _ in local.gid }, rotateTo: RunHistory.previousFileName,
                rotateAt: RunHistory.rotateBytes)
            history = try read(dir, c)
        } catch let e as ServerFailure {
            log("borgpull-server: warning: the run is not in the history: \(e.message)", .warning)
        } catch {
            log(
                "borgpull-server: warning: the run is not in the history \(c.stateDir)/\(RunHistory.fileName): \(error) (fix: install -d -o \(local.name) -g \(local.name) -m 0750 \(c.stateDir))",
                .warning)
        }
        writeMetrics(c, local, history: history, log: log)
    }

    /// The client's history (both generations, oldest first); empty when there is none yet.
    /// - Throws: `SystemError` when STATE_DIR or a history file exists but cannot be read.
    public static func history(_ c: ServerConfig) throws(SystemError) -> RunHistory {
        let dir: Int32
        do { dir = try Files.openDirectoryNoFollow(c.stateDir) } catch {
            if error.errno == ENOENT { return RunHistory() }
            throw error
        }
        defer { close(dir) }
        return try read(dir, c)
    }

    /// At most 4 MiB of each file is read: its end, the newest records.
    static func read(_ dir: Int32, _ c: ServerConfig) throws(SystemError) -> RunHistory {
        var files: [(name: String, text: String, partialFirst: Bool)] = []
        for name in [RunHistory.previousFileName, RunHistory.fileName] {
            if let t = try Files.readTail(in: dir, dirPath: c.stateDir, name: name, limit: 4 << 20) {
                files.append(("\(c.stateDir)/\(name)", t.text, t.partialFirst))
            }
        }
        return RunHistory.parse(files)
    }

    /// STATE_DIR by descriptor; refused unless it is a directory of LOCAL_USER (or root) that
    /// group and other cannot write: a root writer never works in a directory someone else
    /// could change.
    static func openStateDirectory(_ c: ServerConfig, _ local: Account) throws(ServerFailure) -> Int32 {
        let fix = "(fix: install -d -o \(local.name) -g \(local.name) -m 0750 \(c.stateDir))"
        let dir: Int32
        do { dir = try Files.openDirectoryNoFollow(c.stateDir) } catch {
            throw ServerFailure(.configError, "\(c.file): STATE_DIR=\(c.stateDir): \(error) \(fix)")
        }
        var st = stat()
        guard fstat(dir, &st) == 0, st.st_uid == local.uid || st.st_uid == 0, st.st_mode & 0o022 == 0 else {
            close(dir)
            throw ServerFailure(.configError, "\(c.file): STATE_DIR=\(c.stateDir) is not a directory of \(local.name) closed to group and other writes \(fix)")
        }
        return dir
    }

    /// Writes `borgpull-REPO_NAME.prom` into PROMETHEUS_TEXTFILE_DIR: a temporary file there,
    /// then renameat(2), so node-exporter never reads half a file (node_exporter README,
    /// "Textfile Collector"). The directory is not ours: it is opened without following any
    /// symlink, and a missing or closed one is one notice, never a failed run.
    static func writeMetrics(
        _ c: ServerConfig, _ local: Account, history: RunHistory,
        log: (String, JournalLine.Priority) -> Void
    ) {
        guard let dirPath = c.prometheusTextfileDir else { return }
        let name = RunMetrics.fileName(client: c.repoName)
        let dir: Int32
        do { dir = try Files.openDirectoryNoFollow(dirPath) } catch {
            log(
                "borgpull-server: notice: no metrics written: PROMETHEUS_TEXTFILE_DIR=\(dirPath): \(error) (fix: apt-get install prometheus-node-exporter, or set PROMETHEUS_TEXTFILE_DIR= (empty) in \(c.file) to turn metrics off)",
                .notice)
            return
        }
        defer { close(dir) }
        let text = RunMetrics.text(client: c.repoName, history: history, maxAgeSeconds: c.maxBackupAge)
        // Owned by LOCAL_USER even when root writes it: the units run as LOCAL_USER and must
        // be able to replace it in a sticky directory.
        let owner: UInt32? = geteuid() == 0 ? local.uid : nil
        do {
            try Files.writeAtomically(
                in: dir, dirPath: dirPath, name: name, contents: text, mode: 0o644,
                uid: owner, gid: owner.map { _ in local.gid })
        } catch {
            log(
                "borgpull-server: notice: no metrics written: \(error) (fix: let \(local.name) create files there: setfacl -m u:\(local.name):rwx \(dirPath) && chmod +t \(dirPath); README, \"Running a fleet\")",
                .notice)
        }
    }
}
