import BorgPullCore
import Glibc

/// MAX_CONCURRENT: at most N BACKUPs of all clients at once. A slot is the flock(2) on one of
/// the files `SLOT_DIR/slot-1` ... `slot-N`; a BACKUP takes the first free one (LOCK_EX|LOCK_NB
/// on each in turn) and holds it until it ends. The kernel drops a flock when its holder dies,
/// so a slot is free again on every exit path, SIGKILL included; no pid file is ever trusted.
///
/// The lock is the one `RunLock` (a directory walked without symlinks, openat with
/// O_NOFOLLOW|O_NONBLOCK so a FIFO cannot block the open, a regular file with one link), as the
/// slot directory may belong to LOCAL_USER (systemd's `RuntimeDirectory=` of the unit, which
/// runs as `borg`).
public enum ConcurrencySlots {
    /// A held slot; released when the value is dropped (or the process dies).
    public final class Slot {
        let lock: RunLock
        public let number: Int
        init(lock: RunLock, number: Int) {
            self.lock = lock
            self.number = number
        }
        deinit { lock.release() }
    }

    /// Waits (polling every 0.5 s, at most `SLOT_WAIT_TIMEOUT` seconds) for a free slot.
    /// - Returns: nil when MAX_CONCURRENT is not set.
    /// - Throws: `.locked` when no slot came free in time; `.serveFailed` when SLOT_DIR cannot be
    ///   created or is not a real directory of root, of this process's user or of LOCAL_USER
    ///   that group and other cannot write.
    public static func acquire(_ o: ServerOperations, local: Account, log: (String, JournalLine.Priority) -> Void) throws(ServerFailure) -> Slot? {
        guard let n = o.maxConcurrent else { return nil }
        let dir = o.slotDirectory
        try prepare(dir, local: local)
        let started = monotonicSeconds()
        var announced = false
        while true {
            for i in 1...n {
                do {
                    let lock = try RunLock.server("\(dir)/slot-\(i)", owner: local)
                    if announced {
                        log("borgpull-server: got concurrency slot \(i) of MAX_CONCURRENT=\(n) after \(Int(monotonicSeconds() - started)) s", .info)
                    }
                    return Slot(lock: lock, number: i)
                } catch  where error.exit == .locked {
                    continue
                }
            }
            if !announced {
                log(
                    "borgpull-server: all \(n) concurrency slots (MAX_CONCURRENT=\(n)) are taken by other BACKUPs; waiting up to SLOT_WAIT_TIMEOUT=\(o.slotWaitTimeout) s for one",
                    .notice)
                announced = true
            }
            if monotonicSeconds() - started > Double(o.slotWaitTimeout) {
                throw ServerFailure(
                    .locked,
                    "no concurrency slot came free within SLOT_WAIT_TIMEOUT=\(o.slotWaitTimeout) s: \(n) other BACKUPs (MAX_CONCURRENT=\(n)) held all of them; nothing was started (fix: raise MAX_CONCURRENT or SLOT_WAIT_TIMEOUT in the defaults file, or spread the timers; `fuser -v \(dir)/slot-*` shows the holders)"
                )
            }
            usleep(500_000)
        }
    }

    /// SLOT_DIR exists (created LOCAL_USER's, 0700, by root) as a real directory that only its
    /// owner can write. Why: whoever can write it can plant slot files and so block every BACKUP.
    static func prepare(_ dir: String, local: Account) throws(ServerFailure) {
        var fd: Int32
        do { fd = try Files.openDirectoryNoFollow(dir) } catch {
            guard error.errno == ENOENT else {
                throw ServerFailure(
                    .serveFailed, "SLOT_DIR=\(dir): \(error) (fix: make it a real directory, not a symbolic link: install -d -o \(local.name) -m 0700 \(dir))")
            }
            do {
                try Files.makeParents(dir)
                try Files.makeDirectory(dir, mode: 0o700, owner: geteuid() == 0 ? (local.uid, local.gid) : nil)
                fd = try Files.openDirectoryNoFollow(dir)
            } catch {
                throw ServerFailure(.serveFailed, "SLOT_DIR=\(dir): cannot create it: \(error) (fix: install -d -o \(local.name) -m 0700 \(dir))")
            }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ServerFailure(.serveFailed, "SLOT_DIR=\(dir): fstat: \(errnoText())") }
        guard [0, geteuid(), local.uid].contains(st.st_uid), st.st_mode & 0o022 == 0 else {
            throw ServerFailure(
                .serveFailed,
                "SLOT_DIR=\(dir) is owned by uid \(st.st_uid) with mode \(String(st.st_mode & 0o7777, radix: 8)); only root or \(local.name) may own it and group and other must not write it (fix: chown \(local.name) \(dir) && chmod 0700 \(dir))"
            )
        }
    }
}
