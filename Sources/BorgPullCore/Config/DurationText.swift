/// Durations as people write them in configs and options: `26h`, `3d`, `90m`, `45s`, `1w`, and
/// sums such as `1d12h`. A bare number is seconds. Units (systemd.time(7) spans, the subset
/// without months and years, whose length varies): `s`, `m`, `h`, `d`, `w`.
public enum DurationText {
    static let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400]

    /// Seconds of `text`; nil when it is empty, has an unknown unit, a part without digits, a
    /// zero total or more than 10 years.
    public static func seconds(_ text: String) -> Int? {
        let t = text.filter { !$0.isWhitespace }
        guard !t.isEmpty else { return nil }
        if let n = Int(t) { return n > 0 && n <= maxSeconds ? n : nil }
        var total = 0
        var digits = ""
        for c in t {
            if c.isASCII && c.isNumber {
                digits.append(c)
                guard digits.count <= 9 else { return nil }
            } else if let unit = units[c], let n = Int(digits) {
                total += n * unit
                digits = ""
            } else {
                return nil
            }
        }
        guard digits.isEmpty, total > 0, total <= maxSeconds else { return nil }
        return total
    }

    /// Ten years, the largest accepted duration.
    public static let maxSeconds = 10 * 366 * 86400

    /// `seconds` written back shortly: the largest unit that fits, then the next one
    /// (`26h`, `3d`, `1d12h`, `90s` -> `1m30s`), for tables and messages.
    public static func format(_ seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded())
        let parts: [(Int, String)] = [(7 * 86400, "w"), (86400, "d"), (3600, "h"), (60, "m"), (1, "s")]
        // Up to 3 days in hours: `26h` reads better than `1d2h` next to a 26h limit.
        if s < 3 * 86400 && s >= 3600 {
            let h = s / 3600, m = (s % 3600) / 60
            return m == 0 || h >= 10 ? "\(h)h" : "\(h)h\(m)m"
        }
        for (i, (size, name)) in parts.enumerated() where s >= size {
            let first = s / size
            let rest = s % size
            if i + 1 < parts.count, first < 10 {
                let (nextSize, nextName) = parts[i + 1]
                let second = rest / nextSize
                return second == 0 ? "\(first)\(name)" : "\(first)\(name)\(second)\(nextName)"
            }
            return "\(first)\(name)"
        }
        return "0s"
    }
}
