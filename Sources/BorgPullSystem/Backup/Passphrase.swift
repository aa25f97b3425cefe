import BorgPullCore

/// Reads the passphrase borg gets through `BORG_PASSPHRASE_FD`.
public enum PassphraseReader {
    /// The passphrase bytes, if the config has one (`BORG_PASSPHRASE`, or the first line of
    /// `PASSPHRASE_FILE`, opened the safe_path way by `Files.readTrusted`: the file read is the
    /// file judged root's and not group/other-writable, with every directory above it).
    public static func read(_ config: ClientConfig) throws(ConfigError) -> String? {
        switch config.passphrase {
        case .none, .command: return nil
        case .inline(let p): return p
        case .file(let path):
            do {
                let text = try Files.readTrusted(path, limit: 65536)
                return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            } catch {
                throw ConfigError(
                    file: path, problem: "cannot read the passphrase file: \(error.path == path ? "" : "\(error.path): ")\(error.problem)",
                    fix: error.errno == 0 ? error.fix : "chown root:root \(path); chmod 0600 \(path)")
            }
        }
    }
}
