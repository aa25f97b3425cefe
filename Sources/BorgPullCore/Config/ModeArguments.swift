/// Lets `PROGRAM -c DIR BACKUP` (the original's order and case) reach an ArgumentParser
/// subcommand: when the first word that is not an option (or an option's value) names a mode,
/// in any case, it moves to the front, lowercased. Everything after it stays in order (so
/// `borg list ::` passes through untouched), and a first word that is no mode (`help restore`)
/// leaves the arguments alone: a later word is never taken for the mode.
public enum ModeArguments {
    public static func normalize(_ args: [String], modes: Set<String>, optionsWithValue: Set<String>) -> [String] {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { break }
            if optionsWithValue.contains(a) { i += 2; continue }
            if a.hasPrefix("-") { i += 1; continue }
            guard modes.contains(a.lowercased()) else { return args }
            var out = [a.lowercased()]
            out += args[..<i]
            out += args[(i + 1)...]
            return out
        }
        return args
    }
}
