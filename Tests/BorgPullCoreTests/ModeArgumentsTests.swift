import BorgPullCore
import XCTest

/// The original's `-c DIR BACKUP` order reaches the subcommand; `help MODE` stays help.
final class ModeArgumentsTests: XCTestCase {
    let modes: Set<String> = ["setup", "backup", "borg", "restore", "relay", "trigger"]

    func testOnlyTheFirstWordMayBeTheMode() {
        XCTAssertEqual(
            ModeArguments.normalize(["-c", "/etc/borgpull", "BACKUP"], modes: modes, optionsWithValue: ["-c"]),
            ["backup", "-c", "/etc/borgpull"])
        XCTAssertEqual(ModeArguments.normalize(["borg", "list", "::"], modes: modes, optionsWithValue: ["-c"]), ["borg", "list", "::"])
        // A later word naming a mode is an argument, never the mode.
        XCTAssertEqual(ModeArguments.normalize(["help", "restore"], modes: modes, optionsWithValue: ["-c"]), ["help", "restore"])
        XCTAssertEqual(ModeArguments.normalize(["-c", "backup", "setup"], modes: modes, optionsWithValue: ["-c"]), ["setup", "-c", "backup"])
    }
}
