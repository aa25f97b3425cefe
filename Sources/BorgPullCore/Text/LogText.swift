/// Text that reaches a terminal or a log from outside (file names in borg's messages, a
/// client's result record, ssh's stderr) is made inert: control characters (C0 except tab,
/// DEL, C1) are shown as `\xNN`, so no escape sequence can retitle, clear or recolour the
/// admin's terminal and no embedded newline can forge an extra log line.
public enum LogText {
    public static func sanitize(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            let v = u.value
            if (v < 0x20 && v != 0x09) || v == 0x7f || (0x80...0x9f).contains(v) {
                let hex = String(v, radix: 16)
                out.append(contentsOf: "\\x\(hex.count < 2 ? "0" + hex : hex)".unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }
}
