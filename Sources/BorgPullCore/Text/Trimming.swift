/// The one way to trim a line or a value. Configs, policies, borg's and sshd's output are read
/// line by line, so neither trims inside a line.
extension StringProtocol {
    /// Without leading and trailing blanks: space, tab, and carriage return (the end of a line
    /// of a file written with CRLF). Newlines are kept: callers split lines first.
    public func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }

    /// Without leading and trailing whitespace of any kind (`Character.isWhitespace`: blanks and
    /// newlines), for a whole small file such as a lock's pid or a probe's output.
    public func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
