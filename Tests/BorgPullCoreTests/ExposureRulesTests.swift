import XCTest

@testable import BorgPullCore

/// ExposureRules on fakes: permission classes and ACLs as the kernel evaluates them, the mount
/// table, what is allowed, and the findings' fixes.
final class ExposureRulesTests: XCTestCase {
    let ssh = ExposureRules.Credentials(uid: 999, gid: 995, groups: [995, 50])

    func dir(_ path: String, uid: UInt32 = 0, gid: UInt32 = 0, _ mode: UInt32) -> FileFacts {
        FileFacts(path: path, kind: .directory, uid: uid, gid: gid, mode: mode)
    }
    func dir(uid: UInt32 = 0, gid: UInt32 = 0, _ mode: UInt32) -> FileFacts { dir("/d", uid: uid, gid: gid, mode) }

    func testModeClasses() {
        XCTAssertEqual(ExposureRules.canCreate(dir(uid: 999, 0o755), acl: nil, ssh), .owner)
        XCTAssertNil(ExposureRules.canCreate(dir(uid: 999, 0o555), acl: nil, ssh))
        XCTAssertEqual(ExposureRules.canCreate(dir(gid: 50, 0o775), acl: nil, ssh), .group(50))
        XCTAssertEqual(ExposureRules.canCreate(dir(0o777), acl: nil, ssh), .other)
        XCTAssertNil(ExposureRules.canCreate(dir(0o755), acl: nil, ssh))
        // Only the matching class counts: the group class denies although other may write.
        XCTAssertNil(ExposureRules.canCreate(dir(gid: 995, 0o757), acl: nil, ssh))
        // Write without search creates nothing.
        XCTAssertNil(ExposureRules.canCreate(dir(0o722), acl: nil, ssh))
        XCTAssertTrue(ExposureRules.canSearch(dir(0o711), acl: nil, ssh))
        XCTAssertFalse(ExposureRules.canSearch(dir(0o700), acl: nil, ssh))
    }

    func testACL() {
        typealias E = ExposureRules.ACLEntry
        let named = [E(.userObj, 7), E(.user, 7, id: 999), E(.groupObj, 5), E(.mask, 7), E(.other, 5)]
        XCTAssertEqual(ExposureRules.canCreate(dir(0o775), acl: named, ssh), .aclUser)
        // The mask limits named entries and the owning group.
        var masked = named
        masked[3] = E(.mask, 5)
        XCTAssertNil(ExposureRules.canCreate(dir(0o755), acl: masked, ssh))
        let group = [E(.userObj, 7), E(.groupObj, 5), E(.group, 7, id: 50), E(.mask, 7), E(.other, 7)]
        XCTAssertEqual(ExposureRules.canCreate(dir(0o777), acl: group, ssh), .aclGroup(50))
        // A matching group entry without write denies; other is not consulted.
        let deny = [E(.userObj, 7), E(.groupObj, 5), E(.group, 5, id: 50), E(.mask, 7), E(.other, 7)]
        XCTAssertNil(ExposureRules.canCreate(dir(0o777), acl: deny, ssh))
        // The owner's entry is not masked.
        XCTAssertEqual(ExposureRules.canCreate(dir(uid: 999, 0o755), acl: masked, ssh), .owner)
    }

    func testParseACLXattr() {
        // system.posix_acl_access as setfacl -m u:999:rwx writes it (read back with getfattr -e hex).
        let hex = "0200000001000700ffffffff02000700e703000004000500ffffffff10000700ffffffff20000500ffffffff"
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            bytes.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        let acl = ExposureRules.parseACL(bytes)
        XCTAssertEqual(acl?.count, 5)
        XCTAssertEqual(acl?[1], ExposureRules.ACLEntry(.user, 7, id: 999))
        XCTAssertNil(ExposureRules.parseACL([1, 0, 0, 0]))
        XCTAssertNil(ExposureRules.parseACL(Array(bytes.dropLast())))
    }

    func testMountInfo() {
        let text = """
            22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
            23 22 0:5 / /proc rw,nosuid - proc proc rw
            24 22 0:6 / /mnt/with\\040space rw - tmpfs tmpfs rw
            25 22 8:2 / /usr rw,relatime - ext4 /dev/sda2 ro
            26 22 0:7 / /srv/nfs rw - nfs4 host:/x rw
            garbage
            """
        let m = ExposureRules.parseMountInfo(text)
        XCTAssertEqual(m.map(\.mountPoint), ["/", "/proc", "/mnt/with space", "/usr", "/srv/nfs"])
        XCTAssertEqual(m.map(\.readOnly), [false, false, false, true, false])
        XCTAssertEqual(m.map { ExposureRules.classify($0.fsType) }, [.local, .virtual, .local, .local, .remote])
        XCTAssertEqual(ExposureRules.classify("fuse.sshfs"), .remote)
        XCTAssertEqual(ExposureRules.classify("fuse.lxcfs"), .virtual)
    }

    func testAllowed() {
        XCTAssertNotNil(ExposureRules.allowed(dir("/run/borg", uid: 999, 0o710), socketDirectory: "/run/borg", ssh))
        XCTAssertNotNil(ExposureRules.allowed(dir("/tmp", 0o1777), socketDirectory: nil, ssh))
        XCTAssertNil(ExposureRules.allowed(dir("/tmp/mine", uid: 999, 0o1777), socketDirectory: nil, ssh))
        XCTAssertNil(ExposureRules.allowed(dir("/srv/x", 0o0777), socketDirectory: nil, ssh))
        XCTAssertNotNil(ExposureRules.allowed(dir("/run/user/999/systemd", uid: 999, 0o755), socketDirectory: nil, ssh))
        XCTAssertNil(ExposureRules.allowed(dir("/run/user/9990", uid: 999, 0o755), socketDirectory: nil, ssh))
    }

    func testFindingsAndFixes() {
        var scan = ExposureRules.Scan(roots: ["/"])
        scan.writable = [
            .init(facts: dir("/a", uid: 999, 0o755), grant: .owner),
            .init(facts: dir("/b", gid: 50, 0o775), grant: .group(50)),
            .init(facts: dir("/c", gid: 995, 0o775), grant: .group(995))
        ]
        scan.writableCount = 3
        let fs = ExposureRules.findings(scan, user: "borgpull", primaryGID: 995, groupName: { $0 == 50 ? "staff" : "borgpull" })
        XCTAssertEqual(fs.map(\.severity), [.fail, .fail, .fail])
        XCTAssertEqual(
            fs.map(\.fix),
            [
                "chown root:root /a && chmod go-w /a",
                "chmod g-w /b   (or take borgpull out of the group: gpasswd -d borgpull staff)",
                "chmod g-w /c"
            ])
        var clean = ExposureRules.Scan(roots: ["/"])
        clean.directories = 10
        XCTAssertEqual(ExposureRules.findings(clean, user: "u", primaryGID: 1, groupName: { _ in nil }).map(\.severity), [.ok])
        clean.stoppedBy = "10 directories"
        clean.remote = [.init(mountPoint: "/n", fsType: "nfs4", readOnly: false)]
        let w = ExposureRules.findings(clean, user: "u", primaryGID: 1, groupName: { _ in nil })
        XCTAssertEqual(w.map(\.check), ["user.writable.bound", "user.writable.remote"])
        XCTAssertEqual(w.map(\.severity), [.warn, .warn])
    }

    func testHome() {
        let h = "/var/lib/borgpull-home"
        XCTAssertEqual(ExposureRules.checkHome(dir(h, 0o755), path: h, homeACL: nil, entries: [], user: "borgpull", ssh).map(\.severity), [.ok])
        XCTAssertEqual(ExposureRules.checkHome(nil, path: h, homeACL: nil, entries: [], user: "borgpull", ssh).map(\.severity), [.ok])
        let own = ExposureRules.checkHome(dir(h, uid: 999, gid: 995, 0o755), path: h, homeACL: nil, entries: [], user: "borgpull", ssh)
        XCTAssertEqual(own.map(\.fix), ["chown root:root \(h) && chmod 0755 \(h)"])
        let groupWritable = ExposureRules.checkHome(dir(h, gid: 995, 0o775), path: h, homeACL: nil, entries: [], user: "borgpull", ssh)
        XCTAssertEqual(groupWritable.map(\.severity), [.fail])
        let rc = FileFacts(path: "\(h)/.bashrc", kind: .regular, uid: 999, gid: 995, mode: 0o644)
        let fs = ExposureRules.checkHome(dir(h, 0o755), path: h, homeACL: nil, entries: [rc], user: "borgpull", ssh)
        XCTAssertEqual(fs.map(\.location), ["\(h)/.bashrc"])
        XCTAssertEqual(fs.first?.fix, "chown root:root \(h)/.bashrc && chmod go-w \(h)/.bashrc   (or remove it: rm -r \(h)/.bashrc)")
    }
}
