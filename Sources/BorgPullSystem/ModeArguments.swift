import Glibc

/// Lets `PROGRAM -c DIR BACKUP` (the original's order and case) reach an ArgumentParser
/// subcommand: the first argument naming a mode, in any case, moves to the front, lowercased.
/// Everything after the mode stays in order (so `borg list ::` passes through untouched).
public enum ModeArguments {
    public static func normalize(_ args: [String], modes: Set<String>, optionsWithValue: Set<String>) -> [String] {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { break }
            if optionsWithValue.contains(a) { i += 2; continue }
            if modes.contains(a.lowercased()) {
                var out = [a.lowercased()]
                out += args[..<i]
                out += args[(i + 1)...]
                return out
            }
            i += 1
        }
        return args
    }
}

/// Reads the process environment (getenv(3)).
public enum Environment {
    public static func get(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }
}
