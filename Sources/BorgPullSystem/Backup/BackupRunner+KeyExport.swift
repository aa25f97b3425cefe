import BorgPullCore
import Glibc
import Logging

extension BackupRunner {
    /// Runs one `borgpull-client key-export FILE [--paper]`: config and socket (as for BACKUP; the
    /// repokey lives in the repository, so the server must be in SERVE) → `borg key export` in the
    /// backup sandbox, its stdout captured → FILE written by root as a new file (0600, O_EXCL,
    /// no symlink followed) → the record STATE_DIR/key-export.json (root 0600) that
    /// `borgpull-check`'s `key.export` reads.
    /// - Parameters:
    ///   - file: the absolute path of the new file (never an existing one).
    ///   - paper: borg's `--paper` form instead of the plain key file.
    /// - Returns: the exit status; each refusal is logged with its fix.
    public func exportKey(file: String, paper: Bool) -> ClientExit {
        func refuse(_ status: ClientExit, _ problem: String, fix: String) -> ClientExit {
            log.error("key-export refused: \(problem) (fix: \(fix))")
            return status
        }
        guard file.hasPrefix("/"), !file.hasSuffix("/"), !file.split(separator: "/").contains("..") else {
            return refuse(.usage, "FILE \(file) is not an absolute file path without ..", fix: "give e.g. /root/borg-key-\(shortHostName()).txt")
        }
        // Checked before borg runs, and again by O_EXCL when writing: never over an existing file.
        if (try? Files.facts(file)) != nil {
            return refuse(.configError, "\(file) exists; an export never overwrites a file", fix: "choose a new name, or move \(file) away first")
        }
        let p: BackupRunner.Prepared
        do { p = try prepare() } catch {
            log.error("\(error.message)")
            return error.status
        }
        let run: BackupRunner.BorgRun
        do {
            run = try runBorg(
                p, argv: KeyExport.arguments(borgBinary: p.config.borgBinary, paper: paper),
                stdout: .capture, stderr: .lines(prefix: "[borg key export] "))
        } catch {
            return refuse(.internalError, "borg key export could not start: \(error)", fix: "see the log")
        }
        if let step = run.sandboxFailure {
            log.error("sandbox step \(step) failed; borg key export did not run")
            return .sandboxFailed
        }
        let output = String(decoding: run.process.stdout, as: UTF8.self)
        guard run.process.termination == .exited(0), !run.process.stdoutOverflowed else {
            let headline = BorgMessages.headline(run.process.tail) ?? "no message"
            return refuse(
                .borgFailed, "borg key export failed: \(LogText.sanitize(headline))",
                fix: "an unencrypted repository has no key; otherwise check SERVE and borgpull-client borg info")
        }
        guard KeyExport.looksLikeKey(output, paper: paper) else {
            return refuse(.borgFailed, "borg key export printed no key", fix: "check BORG_BINARY (a real borg 1.2.x or 1.4.x)")
        }
        do {
            try Files.createExclusive(file, bytes: Array(output.utf8), mode: 0o600)
        } catch {
            return refuse(
                .configError, "cannot write the key to \(file): \(error)",
                fix: "a new file in a root-owned directory, e.g. /root/borg-key-\(shortHostName()).txt")
        }
        let record = KeyExportRecord(
            exported: BackupRecord.timestamp(Double(time(nil))), file: file,
            format: paper ? "paper" : "text", repository: p.config.repository)
        let recordPath = KeyExport.recordPath(stateDirectory: p.config.stateDirectory)
        do { try Files.writeAtomically(recordPath, contents: record.json(), mode: 0o600, uid: 0, gid: 0) } catch {
            log.error("the key is in \(file), but the record \(recordPath) could not be written: \(error); borgpull-check will keep warning (key.export)")
            return .internalError
        }
        log.info(
            "key of \(p.config.repository) exported to \(file) (\(record.format), root 0600). Keep it off this machine, and the passphrase apart from it (README, \"Key escrow\")"
        )
        return .ok
    }
}
