import BorgPullCore

/// Reads the passphrase borg gets through `BORG_PASSPHRASE_FD`.
public enum PassphraseReader {
    /// The passphrase bytes, if the config has one (`BORG_PASSPHRASE`, or the first line of
    /// `PASSPHRASE_FILE`, whose ownership and mode the audit checked).
    public static func read(_ config: ClientConfig) throws(ConfigError) -> String? {
        switch config.passphrase {
        case .none, .command: return nil
        case .inline(let p): return p
        case .file(let path):
            do {
                let text = try Files.read(path, limit: 65536)
                return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            } catch {
                throw ConfigError(file: path, problem: "cannot read the passphrase file: \(error)", fix: "chown root:root \(path); chmod 0600 \(path)")
            }
        }
    }
}
