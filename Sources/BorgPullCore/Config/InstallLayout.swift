/// Where borgpull is installed: the Debian packages use the prefix `/usr`, `make install`
/// uses `PREFIX` (default `/usr/local`). Every path the programs expect of their own
/// installation (the ForceCommand, the seccomp policy, the units, the binaries) comes from
/// here, so the same binary is right in both layouts.
///
/// | path | `/usr` (packages) | `/usr/local` (make install) |
/// |---|---|---|
/// | binaries | `/usr/bin/borgpull-*` | `/usr/local/bin/borgpull-*` |
/// | units | `/usr/lib/systemd/system/` | `/usr/local/lib/systemd/system/` |
/// | policy files | `/usr/share/borgpull/policy/` | `/usr/local/share/borgpull/policy/` |
public struct InstallLayout: Sendable, Equatable {
    /// `/usr` or make install's `PREFIX`; no trailing slash.
    public var prefix: String

    public init(prefix: String) {
        self.prefix = prefix.count > 1 && prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    }

    /// The Debian packages' layout; also what a binary outside any `PREFIX/bin` (a build
    /// directory) assumes.
    public static let packaged = InstallLayout(prefix: "/usr")

    /// The layout a binary installed at `executable` belongs to: `PREFIX/bin/NAME` gives
    /// `PREFIX`; anything else (`.build/release/borgpull-client`) the packaged layout.
    public static func of(executable: String) -> InstallLayout {
        var parts = executable.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard executable.hasPrefix("/"), parts.count >= 2, parts[parts.count - 2] == "bin" else { return .packaged }
        parts.removeLast(2)
        return InstallLayout(prefix: "/" + parts.joined(separator: "/"))
    }

    /// `PREFIX/bin/NAME`.
    public func binary(_ name: String) -> String { "\(prefix)/bin/\(name)" }
    public var client: String { binary("borgpull-client") }
    /// Our binaries; the client comes first (sshd's ForceCommand and the units run it).
    public var binaries: [String] { ["borgpull-client", "borgpull-check", "borgpull-server"].map(binary) }
    /// Policy files and other data: `PREFIX/share/borgpull`.
    public var shareDirectory: String { "\(prefix)/share/borgpull" }
    /// The seccomp policy borg runs under unless borg_env sets SECCOMP_POLICY.
    public var seccompPolicy: String { "\(shareDirectory)/policy/seccomp/borg.policy" }
    /// Where the units are installed (the packages' unit directory, or systemd's
    /// `/usr/local/lib/systemd/system` for make install).
    public var unitDirectory: String { "\(prefix)/lib/systemd/system" }
    /// The ForceCommand of policy/sshd/borgpull.conf in this layout.
    public var forceCommand: String { "\(client) trigger --via systemd" }
}

/// systemd's unit search path for system units, highest precedence first (systemd.unit(5),
/// "Unit File Load Path"). The first directory holding a unit is the one systemd loads.
public enum UnitSearchPath {
    public static let system = [
        "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system", "/lib/systemd/system"
    ]
}
