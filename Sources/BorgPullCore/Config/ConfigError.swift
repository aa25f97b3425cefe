/// An error in a file the admin wrote: names the file (and line), what is wrong and the fix.
///
/// `description` is `FILE:LINE: PROBLEM (fix: FIX)`; every configuration error the helper
/// reports reaches the admin in this shape, so a log line alone is enough to act on.
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file that holds the problem (absolute or as given on the command line).
    public var file: String
    /// 1-based line number, when the problem sits on a line.
    public var line: Int?
    /// What is wrong, in one sentence.
    public var problem: String
    /// What to do about it, ideally a command or the corrected line.
    public var fix: String

    public init(file: String, line: Int? = nil, problem: String, fix: String) {
        self.file = file
        self.line = line
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(problem) (fix: \(fix))"
    }
}
