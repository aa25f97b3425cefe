import Glibc

/// Reads the process environment (getenv(3)).
public enum Environment {
    public static func get(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }

    /// The value of `name`, nil when it is unset or empty (an empty override means "not set").
    public static func nonEmpty(_ name: String) -> String? {
        guard let v = get(name), !v.isEmpty else { return nil }
        return v
    }
}
