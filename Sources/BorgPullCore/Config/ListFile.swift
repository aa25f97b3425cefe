/// A list file such as `borg_paths` or `borg_options_create`: one item per line.
///
/// Blank lines and lines whose first non-blank character is `#` are ignored; surrounding blanks
/// (spaces, tabs, a trailing CR) are trimmed; there is no globbing, no word splitting and no
/// expansion, so a path with spaces is written as it is.
public struct ListFile: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var value: String
        /// 1-based line.
        public var line: Int
    }

    public var file: String
    public var items: [Item]

    public var values: [String] { items.map(\.value) }

    public static func parse(_ text: String, file: String) -> ListFile {
        var items: [Item] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let v = String(raw).trimmingBlanks()
            if v.isEmpty || v.hasPrefix("#") { continue }
            items.append(Item(value: v, line: i + 1))
        }
        return ListFile(file: file, items: items)
    }
}
