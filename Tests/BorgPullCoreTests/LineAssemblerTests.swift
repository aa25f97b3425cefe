import XCTest

@testable import BorgPullCore

final class LineAssemblerTests: XCTestCase {
    func lines(_ chunks: [[UInt8]], max: Int = 8) -> (lines: [String], assembler: LineAssembler) {
        var a = LineAssembler(maxLineBytes: max)
        var out: [String] = []
        for c in chunks { a.feed(c) { out.append($0) } }
        a.finish { out.append($0) }
        return (out, a)
    }

    func testSplitsAtNewlineAndCarriageReturnAcrossChunks() {
        XCTAssertEqual(lines([Array("ab\ncd".utf8), Array("e\r\n\nf".utf8)]).lines, ["ab", "cde", "f"])
        XCTAssertEqual(lines([]).lines, [])
    }

    func testLongLineIsCutWithMarkerAndTheRestDiscarded() {
        let long = Array(repeating: UInt8(ascii: "x"), count: 20)
        let r = lines([Array("0123".utf8), long, Array("\nnext\n".utf8)])
        XCTAssertEqual(r.lines, ["0123xxxx … [16 bytes cut]", "next"])
        XCTAssertEqual(lines([long]).lines, ["xxxxxxxx … [12 bytes cut]"], "an unterminated line is cut at the end too")
        XCTAssertEqual(lines([Array("12345678".utf8)]).lines, ["12345678"], "exactly the limit is not cut")
    }

    func testCutNeverSplitsAUTF8Character() {
        // "abcdefg" + "é" (2 bytes) + "zz": the limit of 8 falls inside é.
        let r = lines([Array("abcdefgézz\n".utf8)])
        XCTAssertEqual(r.lines, ["abcdefg … [4 bytes cut]"])
        let r2 = lines([Array("abcdeféz\n".utf8)])
        XCTAssertEqual(r2.lines, ["abcdefé … [1 bytes cut]"], "a complete character at the limit stays")
    }

    func testAFloodWithoutNewlineHoldsAtMostTheLimit() {
        var a = LineAssembler()
        let chunk = [UInt8](repeating: UInt8(ascii: "y"), count: 64 << 10)
        var out: [String] = []
        for _ in 0..<256 { a.feed(chunk) { out.append($0) } }  // 16 MiB, no line end
        XCTAssertEqual(a.partial.count, LineAssembler.defaultMaxLineBytes)
        XCTAssertLessThanOrEqual(a.partial.capacity, 2 * LineAssembler.defaultMaxLineBytes)
        XCTAssertEqual(out, [])
        a.feed(Array("\n".utf8)) { out.append($0) }
        XCTAssertEqual(out.count, 1)
        XCTAssertTrue(out[0].hasSuffix(" … [\((16 << 20) - (8 << 10)) bytes cut]"), String(out[0].suffix(40)))
        XCTAssertEqual(out[0].utf8.count, (8 << 10) + " … [16769024 bytes cut]".utf8.count)
    }
}
