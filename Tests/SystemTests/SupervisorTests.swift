import BorgPullCore
import XCTest

@testable import BorgPullSystem

/// The one spawn stack on real processes: a child's end is seen through its pidfd at once, even
/// where no SIGCHLD reaches a signalfd and a grandchild keeps the child's pipe open.
final class SupervisorTests: XCTestCase {
    func testTheEndOfAChildIsSeenAtOnceWithoutSignalsOrEndOfOutput() throws {
        let supervisor = Supervisor.leavingSignalsAlone()
        // The grandchild (sleep 3) holds stdout open: no end of file tells the child ended.
        let child = try supervisor.start(
            SpawnSpec(
                argv: ["/bin/sh", "-c", "sleep 3 & sleep 0.1; echo done"],
                environment: ["PATH": "/usr/bin:/bin"], stdout: .capture))
        defer { kill(-child.pid, SIGKILL) }
        let started = monotonicSeconds()
        while supervisor.reap(child) == nil && monotonicSeconds() - started < 5 {
            supervisor.wait(readable: child.openOutputs, children: [child], timeout: 5)
            child.drain { _ in }
        }
        let seconds = monotonicSeconds() - started
        XCTAssertEqual(child.termination, .exited(0))
        XCTAssertLessThan(seconds, 1.5, "the pidfd wakes the wait when the child ends, not the 5 s timeout")
        XCTAssertFalse(child.openOutputs.isEmpty, "the grandchild still holds the pipe")
        child.finish(linger: 0) { _ in }
        XCTAssertEqual(String(decoding: child.stdout, as: UTF8.self), "done\n")
    }

    func testAuditCommandsRunOnTheSupervisor() {
        let out = AuditOS.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        XCTAssertTrue(out.launched)
        XCTAssertEqual(out.status, 3)
        XCTAssertEqual(out.stdout, "out\n")
        XCTAssertEqual(out.stderr, "err\n")
        XCTAssertFalse(AuditOS.run(["sh", "-c", "true"]).launched, "only an absolute path is started")

        let started = monotonicSeconds()
        let slow = AuditOS.run(["/bin/sh", "-c", "exec sleep 30"], timeout: 0.3)
        XCTAssertEqual(slow.status, SIGTERM, "the timeout ends it with SIGTERM (reported as the signal number)")
        XCTAssertLessThan(monotonicSeconds() - started, 5)
    }
}
