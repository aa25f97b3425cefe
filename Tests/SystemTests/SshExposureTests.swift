import BorgPullCore
import BorgPullSystem
import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// What the server's key can reach through the ssh user's permissions (ExposureRules,
/// WritableScan, ClientAudit.checkHome) on real directories, owners, modes and ACLs, with the
/// walk limited to the fixture (CheckFixture sets `writableRoots`).
final class SshExposureTests: XCTestCase {
    var fx: CheckFixture!
    var sshUser: Account!

    override func setUpWithError() throws {
        fx = try CheckFixture()
        sshUser = try XCTUnwrap(Account.user(CheckFixture.sshUser))
    }

    override func tearDown() {
        fx?.remove()
    }

    func writable(_ fs: [Finding]) -> [Finding] { fs.filter { $0.check == "user.writable" && $0.severity == .fail } }

    /// A directory under the fixture root, made with `install -d` options.
    @discardableResult
    func dir(_ rel: String, _ installArgs: String = "-m 0755") throws -> String {
        let p = "\(fx.root)/\(rel)"
        try CheckFixture.sh("install -d \(installArgs) \(p)")
        return p
    }

    func testFixtureWalkAndHomeAreOK() throws {
        let fs = fx.audit().findings
        let walk = try XCTUnwrap(fs.first { $0.check == "user.writable" }, describe(fs))
        XCTAssertEqual(walk.severity, .ok, describe(fs))
        XCTAssertEqual(walk.location, fx.root)
        XCTAssertEqual(fs.first { $0.check == "user.home" }?.severity, .ok, describe(fs))
        print("borgpull-check: walk of the fixture: \(walk.actual)")
    }

    func testDirectoryOwnedBySshUserFails() throws {
        let p = try dir("data/planted", "-o \(CheckFixture.sshUser) -m 0755")
        let f = try XCTUnwrap(writable(fx.audit().findings).first, "no user.writable FAIL")
        XCTAssertEqual(f.location, p)
        XCTAssertEqual(f.actual, "owned by borgpull, mode 0755")
        XCTAssertEqual(f.fix, "chown root:root \(p) && chmod go-w \(p)")
    }

    func testGroupWritableDirectoryFails() throws {
        let p = try dir("srv", "-g \(CheckFixture.sshUser) -m 0770")
        let f = try XCTUnwrap(writable(fx.audit().findings).first)
        XCTAssertEqual(f.location, p)
        XCTAssertEqual(f.actual, "group borgpull with write, mode 0770")
        // The user's primary group: leaving it is no fix.
        XCTAssertEqual(f.fix, "chmod g-w \(p)")
    }

    func testWorldWritableWithoutStickyFailsStickyIsAllowed() throws {
        let open = try dir("share", "-m 0777")
        try dir("tmp", "-m 1777")
        let own = try dir("own-tmp", "-o \(CheckFixture.sshUser) -m 1777")
        let fs = writable(fx.audit().findings)
        XCTAssertEqual(Set(fs.map(\.location)), [open, own], describe(fs))
        XCTAssertEqual(fs.first { $0.location == open }?.fix, "chmod o-w \(open)   (or chmod +t \(open) if it is a shared directory like /tmp)")
    }

    /// Search permission is needed at every level: what the ssh user cannot reach is no exposure.
    func testUnreachableDirectoryIsNotReported() throws {
        try dir("private", "-m 0700")
        try dir("private/planted", "-o \(CheckFixture.sshUser) -m 0755")
        try dir("traverse", "-m 0711")
        let reachable = try dir("traverse/planted", "-o \(CheckFixture.sshUser) -m 0755")
        // Write without search creates nothing (may_create needs both).
        try dir("nosearch", "-o \(CheckFixture.sshUser) -m 0644")
        XCTAssertEqual(writable(fx.audit().findings).map(\.location), [reachable])
    }

    /// Sets the access ACL with the kernel's xattr layout (no setfacl on the test machine).
    func setACL(_ path: String, userPerm: Int, mask: Int) throws {
        try CheckFixture.sh(
            """
            /usr/bin/python3 -c "
            import os, struct
            e = lambda tag, perm, id=0xffffffff: struct.pack('<HHI', tag, perm, id)
            acl = struct.pack('<I', 2) + e(1, 7) + e(2, \(userPerm), \(sshUser.uid)) + e(4, 5) + e(0x10, \(mask)) + e(0x20, 5)
            os.setxattr('\(path)', 'system.posix_acl_access', acl)"
            """)
    }

    func testACLEntryForSshUserFails() throws {
        let p = try dir("acl")
        try setACL(p, userPerm: 7, mask: 7)
        let f = try XCTUnwrap(writable(fx.audit().findings).first)
        XCTAssertEqual(f.location, p)
        XCTAssertEqual(f.actual, "an ACL entry for borgpull grants write")
        XCTAssertEqual(f.fix, "setfacl -x u:borgpull \(p)")
        // The mask limits named entries: r-x leaves no write.
        try setACL(p, userPerm: 7, mask: 5)
        XCTAssertEqual(writable(fx.audit().findings).count, 0)
    }

    func testBoundIsReported() throws {
        fx.options.writableLimits = WritableScan.Limits(directories: 3, seconds: 10)
        let f = try XCTUnwrap(fx.audit().findings.first { $0.check == "user.writable.bound" })
        XCTAssertEqual(f.severity, .warn)
        XCTAssertTrue(f.actual.hasPrefix("stopped after 3 directories"), f.actual)
        XCTAssertFalse(fx.audit().findings.contains { $0.check == "user.writable" && $0.severity == .ok })
    }

    func testListIsCappedWithARest() throws {
        for i in 0..<(ExposureRules.listed + 3) { try dir("data/p\(i)", "-o \(CheckFixture.sshUser)") }
        let fs = writable(fx.audit().findings)
        XCTAssertEqual(fs.count, ExposureRules.listed + 1)
        XCTAssertEqual(fs.last?.actual, "3 more besides the \(ExposureRules.listed) listed")
    }

    /// A mount table written for the test: read-only and virtual mounts are not walked, a
    /// network one is reported.
    func testMountTableDecidesWhatIsWalked() throws {
        let ro = try dir("ro")
        let virt = try dir("virt")
        let nfs = try dir("nfs")
        let rw = try dir("rw")
        for d in [ro, virt, nfs, rw] { try dir("\(String(d.dropFirst(fx.root.count + 1)))/planted", "-o \(CheckFixture.sshUser)") }
        let table = "\(fx.root)/mountinfo"
        try """
        22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
        30 22 8:2 / \(ro) ro,relatime shared:2 - ext4 /dev/sda2 ro
        31 22 0:5 / \(virt) rw,nosuid - proc proc rw
        32 22 0:6 / \(nfs) rw,relatime - nfs4 server:/export rw
        33 22 0:7 / \(rw) rw,relatime - tmpfs tmpfs rw

        """.write(toFile: table, atomically: false, encoding: .utf8)
        fx.options.mountInfo = table
        let fs = fx.audit().findings
        XCTAssertEqual(writable(fs).map(\.location), ["\(rw)/planted"], describe(fs))
        let remote = try XCTUnwrap(fs.first { $0.check == "user.writable.remote" })
        XCTAssertEqual(remote.severity, .warn)
        XCTAssertEqual(remote.location, nfs)
        XCTAssertEqual(remote.actual, "nfs4")
    }

    // MARK: the home

    func home(_ path: String) -> Account {
        Account(name: sshUser.name, uid: sshUser.uid, gid: sshUser.gid, home: path, shell: sshUser.shell)
    }

    func testHomeRules() throws {
        let h = "\(fx.root)/home"
        XCTAssertEqual(ClientAudit.checkHome(home(h)).map(\.severity), [.ok], "absent")
        try CheckFixture.sh("install -d -o root -g root -m 0755 \(h)")
        XCTAssertEqual(ClientAudit.checkHome(home(h)).map(\.severity), [.ok], describe(ClientAudit.checkHome(home(h))))
        // What `useradd -m` leaves: the home and the skeleton files are the user's.
        try CheckFixture.sh("chown \(CheckFixture.sshUser) \(h) && install -o \(CheckFixture.sshUser) -m 0644 /dev/null \(h)/.bashrc")
        var fs = ClientAudit.checkHome(home(h))
        XCTAssertEqual(fs.first { $0.location == h }?.fix, "chown root:root \(h) && chmod 0755 \(h)", describe(fs))
        XCTAssertEqual(fs.first { $0.location == "\(h)/.bashrc" }?.severity, .fail, describe(fs))
        // Root's home, but a file in it the user can write, and one in .ssh.
        try CheckFixture.sh(
            """
            chown root:root \(h) \(h)/.bashrc
            install -m 0666 /dev/null \(h)/.profile
            install -d -m 0755 \(h)/.ssh && install -o \(CheckFixture.sshUser) -m 0600 /dev/null \(h)/.ssh/environment
            """)
        fs = ClientAudit.checkHome(home(h))
        XCTAssertEqual(Set(fs.filter { $0.severity == .fail }.map(\.location)), ["\(h)/.profile", "\(h)/.ssh/environment"], describe(fs))
        // A symlink is judged by what it points to.
        try CheckFixture.sh("rm \(h)/.profile \(h)/.ssh/environment && ln -s /etc/bash.bashrc \(h)/.profile")
        XCTAssertEqual(ClientAudit.checkHome(home(h)).map(\.severity), [.ok], describe(ClientAudit.checkHome(home(h))))
    }

    // MARK: measurements

    /// The walk of this machine for the real ssh user (not asserted OK: other test runs leave
    /// directories of that user here).
    func testWalkCostOnThisMachine() throws {
        let c = ClientAudit.credentials(sshUser)
        let scan = WritableScan.run(roots: ["/"], credentials: c, socketDirectory: "/run/borg")
        print(
            "borgpull-check: walk of / as \(sshUser.name): \(scan.directories) directories in \(scan.milliseconds) ms, \(scan.writableCount) writable, \(scan.remote.count) remote mounts skipped, stopped: \(scan.stoppedBy ?? "no")"
        )
        for w in scan.writable.prefix(5) { print("  writable: \(w.facts.path)") }
        XCTAssertNil(scan.stoppedBy)
    }

    /// The walk of the cached Debian 12 rootfs of the nspawn tests (debootstrap minbase plus
    /// systemd, openssh, polkitd), as an account that can search everything root may without
    /// capabilities (uid 0 by mode bits: the upper bound of what a walk visits). On a machine
    /// without that cache, `Tests/nspawn/rootfs.sh cache` builds it (debootstrap, once; the
    /// nspawn tests reuse it), so a new CI machine runs this test instead of skipping it.
    func testWalkCostOnDebianTree() throws {
        try requireRoot()
        try requireExecutable("/usr/sbin/debootstrap")
        let rootfs = SystemdUnitsTests.repoRoot.appendingPathComponent("Tests/nspawn/rootfs.sh").path
        let built = Shell.run(["/bin/bash", rootfs, "cache"])
        XCTAssertEqual(built.status, 0, "rootfs.sh cache failed: \(built.stderr)")
        let tree = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try requirePrerequisite(built.status == 0 && Files.exists("\(tree)/etc/debian_version"), "no Debian rootfs at \(tree)")
        let count = try CheckFixture.sh("find \(tree) -xdev -type d | wc -l").trimmingCharacters(in: .whitespacesAndNewlines)
        let scan = WritableScan.run(roots: [tree], credentials: .init(uid: 0, gid: 0, groups: [0]), socketDirectory: nil)
        print("borgpull-check: walk of the Debian tree \(tree) (\(count) directories by find): \(scan.directories) directories in \(scan.milliseconds) ms")
        XCTAssertNil(scan.stoppedBy)
        XCTAssertGreaterThan(scan.directories, 1000)
    }
}
