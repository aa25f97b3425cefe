/// The exit statuses of one borgpull program (`ClientExit`, `ServerExit`): each has its number
/// and a name, and the program's `--help` (and README) lists them in one table.
public protocol ExitTable: CaseIterable, RawRepresentable where RawValue == Int32 {
    /// The status's name in summaries, records and the table, e.g. `config-error`.
    var name: String { get }
}

extension ExitTable {
    /// One line per status in declaration order, joined by newlines (no trailing one): two
    /// spaces, the number padded to three columns, a space, the name (`  12  config-error`).
    public static var table: String {
        allCases.map { "  \(String($0.rawValue).padding(3)) \($0.name)" }.joined(separator: "\n")
    }
}
