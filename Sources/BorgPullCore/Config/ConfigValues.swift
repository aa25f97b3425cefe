/// The value rules the client's borg_env and the server's NAME.conf share: one definition of an
/// account name, an absolute path, a socket path and a whole number, so the two never disagree.
/// Each returns whether the value is valid (or the parsed value); the caller builds its
/// `ConfigError` with the key, the line and a fix for its side.
public enum ConfigValues {
    /// useradd(8): a user or group name is at most 32 bytes.
    public static let maxAccountNameBytes = 32
    /// unix(7): `sun_path` holds 108 bytes with the terminating NUL, so a path has at most 107.
    public static let maxSocketPathBytes = 107

    /// A user or group name: ASCII letters, digits, `-` `_` `.`, not starting with `-` (it would
    /// be an option to chown, setpriv, ssh), 1 to 32 bytes (useradd(8); Debian's NAME_REGEX
    /// `^[a-z][-a-z0-9_]*\$?$` is the adduser default, of which this is the portable superset
    /// that shadow's useradd also accepts: upper case and `.`).
    public static func isAccountName(_ s: String) -> Bool {
        guard let f = s.first, f != "-", s.utf8.count <= maxAccountNameBytes else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    /// Absolute (`/...`), no `..` component, no newline or NUL.
    public static func isAbsolutePath(_ v: String) -> Bool {
        v.hasPrefix("/") && !v.split(separator: "/").contains("..") && !v.contains("\n") && !v.contains("\0")
    }

    /// Characters allowed in paths that reach socat addresses and ssh `-R` arguments: ASCII
    /// letters, digits and `. _ - /` (socat and ssh give `:` `,` and blanks a meaning).
    public static func isSafePathCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || "._-/".contains(c))
    }

    /// Why `v` cannot be a Unix socket path that reaches ssh -R, socat and sockaddr_un, or nil:
    /// `isAbsolutePath`, only `isSafePathCharacter`, at most `maxSocketPathBytes`, not a directory
    /// (trailing `/`).
    public static func socketPathProblem(_ v: String) -> String? {
        if !isAbsolutePath(v) { return "must be an absolute path without .." }
        if let bad = v.first(where: { !isSafePathCharacter($0) }) {
            return "contains `\(bad)`; only A-Z a-z 0-9 . _ / - may be used (socat and ssh give `:` `,` and blanks a meaning in socket addresses)"
        }
        if v.utf8.count > maxSocketPathBytes { return "is \(v.utf8.count) bytes; a Unix socket path may have at most \(maxSocketPathBytes) (sockaddr_un)" }
        if v.hasSuffix("/") { return "names a directory" }
        return nil
    }

    /// A decimal whole number within `range`, or nil.
    public static func wholeNumber(_ s: String, in range: ClosedRange<Int>) -> Int? {
        Int(s).flatMap { range.contains($0) ? $0 : nil }
    }
}
