import XCTest

@testable import BorgPullCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `JSONValue`: the trigger passes any record on unchanged, compacted to one line with sorted keys.
final class JSONValueTests: XCTestCase {
    func compact(_ text: String) throws -> String {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    func testEveryKindOfValueSurvivesCompactedWithSortedKeys() throws {
        let record = """
            {
              "z": null, "b": true, "i": 9007199254740993, "f": 1.5, "s": "ünïcode \\"q\\" a/b",
              "a": [1, "two", {"y": false, "x": []}], "o": {}
            }
            """
        XCTAssertEqual(
            try compact(record),
            #"{"a":[1,"two",{"x":[],"y":false}],"b":true,"f":1.5,"i":9007199254740993,"o":{},"s":"ünïcode \"q\" a/b","z":null}"#)
    }

    func testTheStatusCodeIsReadAsAnInteger() throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"status":{"code":2,"name":"borg-failed"}}"#.utf8))
        guard case .object(let o) = value, case .object(let status)? = o["status"] else { return XCTFail("\(value)") }
        XCTAssertEqual(status["code"], .integer(2))
        XCTAssertEqual(status["name"], .string("borg-failed"))
    }

    func testBrokenJSONIsAnError() {
        XCTAssertThrowsError(try compact(#"{"a": "#))
    }
}
