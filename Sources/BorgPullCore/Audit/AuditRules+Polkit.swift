/// Conservative analysis of a polkit JavaScript rules file (polkit(8), "AUTHORIZATION RULES").
///
/// JavaScript cannot be judged in general, so the rule is: a file that mentions the ssh user or
/// the unit (outside comments) and returns `polkit.Result.YES` is OK only if it compares
/// `action.id` with `org.freedesktop.systemd1.manage-units`, `action.lookup("unit")` with
/// `run-borg-backup.service`, `action.lookup("verb")` with `start` (each with `==`/`===`),
/// checks `subject.user` against the ssh user (`==`/`===`, or `!=`/`!==` followed directly by a
/// return of NOT_HANDLED or NO), returns YES once, and uses none of `||`, `indexOf`, `match`,
/// `RegExp`, `test(`, `search(`, `startsWith`, `endsWith`, `includes`, `isInGroup`, `spawn`.
/// Everything else that mentions them is a FAIL with the shipped rule as the fix.
public enum PolkitRules {
    /// Returns nil when the file neither mentions the ssh user nor the unit.
    public static func check(file: String, text: String, user: String) -> TriggerAnalysis? {
        let code = stripComments(text)
        let q = "[\"']"
        let mentionsUser = code.contains("\"\(user)\"") || code.contains("'\(user)'")
        let mentionsUnit = code.contains(TriggerRules.unit)
        guard mentionsUser || mentionsUnit else { return nil }
        let grants = code.contains("polkit.Result.YES")
        guard grants else {
            return TriggerAnalysis(
                findings: [
                    Finding(
                        .ok, check: "trigger.polkit",
                        what: "polkit rule mentions the ssh user or the unit but grants nothing", location: file,
                        expected: "no YES beyond the trigger", actual: "no polkit.Result.YES")
                ], grantsTrigger: false)
        }
        func has(_ pattern: String) -> Bool {
            guard let re = try? Regex(pattern) else { return false }
            return code.contains(re)
        }
        func esc(_ s: String) -> String { s.map { "\\^$.|?*+()[]{}".contains($0) ? "\\\($0)" : String($0) }.joined() }
        var missing: [String] = []
        let eq = "\\s*===?\\s*"
        if !(has("action\\.id\(eq)\(q)\(esc(TriggerRules.polkitAction))\(q)") || has("\(q)\(esc(TriggerRules.polkitAction))\(q)\(eq)action\\.id")) {
            missing.append("action.id == \"\(TriggerRules.polkitAction)\"")
        }
        let lookup = { (k: String) in "action\\.lookup\\(\\s*\(q)\(k)\(q)\\s*\\)" }
        if !has("\(lookup("unit"))\(eq)\(q)\(esc(TriggerRules.unit))\(q)") { missing.append("action.lookup(\"unit\") == \"\(TriggerRules.unit)\"") }
        if !has("\(lookup("verb"))\(eq)\(q)start\(q)") { missing.append("action.lookup(\"verb\") == \"start\"") }
        let userEq = has("subject\\.user\(eq)\(q)\(esc(user))\(q)")
        let userGuard = has("if\\s*\\(\\s*subject\\.user\\s*!==?\\s*\(q)\(esc(user))\(q)\\s*\\)\\s*\\{?\\s*return\\s+polkit\\.Result\\.(NOT_HANDLED|NO)\\b")
        if !(userEq || userGuard) { missing.append("subject.user == \"\(user)\"") }
        var widening: [String] = []
        for w in ["||", "indexOf", ".match(", "RegExp", ".test(", ".search(", "startsWith", "endsWith", "includes(", "isInGroup", "spawn"]
        where code.contains(w) { widening.append(w) }
        if code.components(separatedByWord: "polkit.Result.YES") > 1 { widening.append("more than one polkit.Result.YES") }
        let fix =
            "install the shipped rule: install -o root -g root -m 0644 policy/polkit/50-borgpull.rules /etc/polkit-1/rules.d/50-borgpull.rules (and remove \(file) if it is another one)"
        let expected = "action.id, unit, verb `start` and user `\(user)` all compared exactly"
        if missing.isEmpty && widening.isEmpty {
            return TriggerAnalysis(
                findings: [
                    Finding(
                        .ok, check: "trigger.polkit",
                        what: "polkit allows the ssh user exactly `start` of \(TriggerRules.unit)", location: file,
                        expected: expected, actual: "all four checks present, nothing that widens them")
                ], grantsTrigger: true)
        }
        var actual: [String] = []
        if !missing.isEmpty { actual.append("missing: " + missing.joined(separator: ", ")) }
        if !widening.isEmpty { actual.append("widening constructs: " + widening.joined(separator: ", ")) }
        return TriggerAnalysis(
            findings: [
                Finding(
                    .fail, check: "trigger.polkit",
                    what: "a polkit rule that concerns the ssh user or the unit may allow more than `start` of \(TriggerRules.unit)",
                    location: file, expected: expected, actual: actual.joined(separator: "; "), fix: fix)
            ],
            grantsTrigger: has("\(lookup("unit"))\(eq)\(q)\(esc(TriggerRules.unit))\(q)"))
    }

    /// Removes `//` and `/* */` comments outside string literals.
    public static func stripComments(_ text: String) -> String {
        var out = ""
        let c = Array(text)
        var i = 0
        var quote: Character? = nil
        while i < c.count {
            let ch = c[i]
            if let q = quote {
                out.append(ch)
                if ch == "\\", i + 1 < c.count { out.append(c[i + 1]); i += 2; continue }
                if ch == q { quote = nil }
                i += 1
                continue
            }
            if ch == "\"" || ch == "'" || ch == "`" { quote = ch; out.append(ch); i += 1; continue }
            if ch == "/", i + 1 < c.count, c[i + 1] == "/" {
                while i < c.count, c[i] != "\n" { i += 1 }
                continue
            }
            if ch == "/", i + 1 < c.count, c[i + 1] == "*" {
                i += 2
                while i + 1 < c.count, !(c[i] == "*" && c[i + 1] == "/") { i += 1 }
                i += 2
                out.append(" ")
                continue
            }
            out.append(ch)
            i += 1
        }
        return out
    }
}
