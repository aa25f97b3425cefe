import XCTest

@testable import BorgPullSystem

/// The one getpw*_r/getgr*_r buffer loop.
final class NssLookupTests: XCTestCase {
    func testRealLookups() {
        XCTAssertEqual(Account.user("root")?.uid, 0)
        XCTAssertEqual(Account.userName(0), "root")
        XCTAssertEqual(Account.groupID("root"), 0)
        XCTAssertEqual(Account.groupName(0), "root")
        XCTAssertNil(Account.user("no-such-user-bp"))
    }

    /// A lookup that needs more than the first buffer (a group with many members answers
    /// ERANGE) is asked again with a larger one, not reported as missing (the five copies used
    /// one fixed buffer of 16 or 64 KiB).
    func testERANGEGrowsTheBuffer() {
        var sizes: [Int] = []
        let gid: UInt32? = nssLookup(
            group(),
            { entry, buffer, size, result in
                sizes.append(size)
                guard getgrgid_r(0, entry, buffer, size, result) == 0 else { return errno }
                return size < 100_000 ? ERANGE : 0
            },
            read: { $0.gr_gid })
        XCTAssertEqual(gid, 0)
        XCTAssertEqual(sizes, [16384, 32768, 65536, 131072])
        XCTAssertNil(nssLookup(group(), maxBytes: 20000, { _, _, _, _ in ERANGE }, read: { $0.gr_gid }))
    }
}
