import BorgPullCore
import Foundation
import XCTest

@testable import BorgPullSystem

/// Supervisor's pipe reader (the client's borg and hook outputs) on a real descriptor holding far
/// more than its bounds: a line without newline and a `.capture` past its cap.
final class OutputBoundsTests: XCTestCase {
    var file = ""

    override func setUpWithError() throws {
        file = "/var/tmp/bp-output-\(UUID().uuidString.prefix(8).lowercased())"
    }

    override func tearDown() {
        if !file.isEmpty { unlink(file) }
    }

    /// A file of `bytes` bytes of `x`, then `tail`; opened for the reader.
    func descriptor(bytes: Int, tail: String) throws -> Int32 {
        let r = Shell.sh("head -c \(bytes) /dev/zero | tr '\\000' x > \(file) && printf '\(tail)' >> \(file)")
        XCTAssertEqual(r.status, 0, r.stderr)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        return fd
    }

    func testLinesOutputCutsALineWithoutNewline() throws {
        let fd = try descriptor(bytes: 50_000_000, tail: "\\nnext line\\nlast")
        defer { close(fd) }
        let reader = OutputReader(fd: fd, output: .lines(prefix: "[hook] "))
        var lines: [String] = []
        reader.drain({ lines.append($0) }, maxReads: .max)
        reader.finish { lines.append($0) }
        XCTAssertTrue(reader.closed)
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines.first?.utf8.count, "[hook] ".utf8.count + (8 << 10) + " … [\(50_000_000 - (8 << 10)) bytes cut]".utf8.count)
        XCTAssertTrue(lines.first?.hasSuffix(" … [\(50_000_000 - (8 << 10)) bytes cut]") ?? false)
        XCTAssertEqual(Array(lines.dropFirst()), ["[hook] next line", "[hook] last"])
        XCTAssertEqual(reader.tail.count, 3)
    }

    func testCaptureStopsAtItsCapAndSaysSo() throws {
        let fd = try descriptor(bytes: OutputReader.captureLimit + 1, tail: "")
        defer { close(fd) }
        let reader = OutputReader(fd: fd, output: .capture)
        reader.drain({ _ in }, maxReads: .max)
        XCTAssertTrue(reader.closed, "the rest is read (the child must not block) and dropped")
        XCTAssertTrue(reader.overflowed)
        XCTAssertEqual(reader.captured.count, OutputReader.captureLimit)
        XCTAssertEqual(OutputReader.captureLimit, 4 << 20)

        let exact = try descriptor(bytes: 1000, tail: "")
        defer { close(exact) }
        let small = OutputReader(fd: exact, output: .capture)
        small.drain({ _ in }, maxReads: .max)
        XCTAssertFalse(small.overflowed)
        XCTAssertEqual(small.captured.count, 1000)
    }

    func testOneDrainReadsAtMostItsShareSoSignalsAreSeen() throws {
        let fd = try descriptor(bytes: 10 << 20, tail: "")
        defer { close(fd) }
        let reader = OutputReader(fd: fd, output: .capture)
        reader.drain { _ in }
        XCTAssertEqual(reader.captured.count, 16 * 65536, "one drain reads 16 x 64 KiB, then run() looks at signals and timeouts")
        XCTAssertFalse(reader.closed)
    }
}
