import Glibc
import BorgPullCore

/// Reads a client configuration directory and audits the files that decide what runs as root.
public enum ClientConfigLoader {
    public struct Loaded {
        public var config: ClientConfig
        /// File audit (safe_path rule, secrets): FAIL findings must stop a BACKUP.
        public var findings: [Finding]
    }

    /// Loads and validates `directory`.
    /// - Throws: `ConfigError` naming the file (and line) when something cannot be read or parsed.
    public static func load(directory: String) throws(ConfigError) -> Loaded {
        let dirFacts: FileFacts?
        do { dirFacts = try Files.facts(directory) } catch {
            throw ConfigError(file: directory, problem: "cannot inspect the configuration directory: \(error)", fix: "run as root")
        }
        guard let dirFacts, dirFacts.kind == .directory else {
            throw ConfigError(file: directory, problem: "the configuration directory does not exist (or is not a directory)",
                              fix: "create it (install -d -m 0700 \(directory)) or pass -c DIR / set BORGPULL_CONFIG_DIR")
        }
        var texts: [ClientFile: String] = [:]
        var executable: [ClientFile: Bool] = [:]
        var findings: [Finding] = []
        for parent in FileRules.parents(of: directory) {
            if let f = try? Files.facts(parent) { findings += FileRules.checkParent(f, of: directory) }
        }
        findings += FileRules.checkParent(dirFacts, of: "the configuration files")
        var fileFacts: [ClientFile: FileFacts] = [:]
        for file in ClientFile.allCases {
            let path = "\(directory)/\(file.rawValue)"
            let facts: FileFacts?
            do { facts = try Files.facts(path) } catch {
                throw ConfigError(file: path, problem: "cannot inspect: \(error)", fix: "run as root")
            }
            guard let facts else { continue }
            fileFacts[file] = facts
            if facts.kind == .symlink {
                findings += FileRules.check(facts, role: file.isHook ? "hook" : "config file")
                continue
            }
            guard facts.kind == .regular else {
                throw ConfigError(file: path, problem: "is not a regular file", fix: "replace it with a regular file")
            }
            if file.isHook {
                executable[file] = facts.mode & 0o100 != 0
                findings += FileRules.check(facts, role: "hook")
            } else {
                do { texts[file] = try Files.read(path) } catch {
                    throw ConfigError(file: path, problem: "cannot read: \(error)", fix: "check the file's permissions (run as root)")
                }
            }
        }
        let config = try ClientConfig.build(ClientConfigInput(directory: directory, texts: texts, hookExecutable: executable))
        for (file, facts) in fileFacts where !file.isHook && facts.kind != .symlink {
            let secret = file == .env && { if case .inline = config.passphrase { return true } else { return false } }()
            findings += FileRules.check(facts, role: "config file", secret: secret)
        }
        if case .file(let path) = config.passphrase {
            guard let f = try? Files.facts(path) else {
                throw ConfigError(file: config.envFile, line: nil, problem: "PASSPHRASE_FILE \(path) does not exist",
                                  fix: "create it (install -m 0600 /dev/null \(path), then write the passphrase) or fix the path")
            }
            findings += FileRules.check(f, role: "passphrase file", secret: true)
            for parent in FileRules.parents(of: path) {
                if let p = try? Files.facts(parent) { findings += FileRules.checkParent(p, of: path) }
            }
        }
        // Parent findings repeat for each file under the same directory; keep each once.
        var seen = Set<String>()
        findings = findings.filter { seen.insert("\($0.check) \($0.location)").inserted }
        return Loaded(config: config, findings: findings)
    }

    /// The passphrase bytes to hand to borg through BORG_PASSPHRASE_FD, if any.
    public static func passphrase(_ config: ClientConfig) throws(ConfigError) -> String? {
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
