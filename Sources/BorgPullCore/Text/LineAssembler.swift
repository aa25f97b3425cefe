/// Splits a child's output into lines in bounded memory: the one line assembly of borgpull
/// (Supervisor's `.lines` outputs on the client: borg and the hooks; the client's stderr that
/// reaches the server through ssh).
///
/// A line ends at `\n` or `\r` (borg's progress output rewrites its line with `\r`); empty lines
/// are dropped. A line longer than `maxLineBytes` keeps its first `maxLineBytes` bytes (cut back to
/// a whole UTF-8 character) followed by `… [N bytes cut]`; the rest up to the line's end is
/// counted and dropped. So at most `maxLineBytes` bytes are ever held, whatever the child writes:
/// a client printing hundreds of MB without a newline cannot exhaust the server's memory.
public struct LineAssembler: Sendable {
    /// 8 KiB, in bytes. A borg message quoting a path of PATH_MAX (4096 bytes, limits.h) fits
    /// with room to spare; so do the result record's messages. Longer lines are noise or an attack.
    public static let defaultMaxLineBytes = 8 << 10

    public let maxLineBytes: Int
    var partial: [UInt8] = []
    /// Bytes of the current line dropped so far.
    var cut = 0

    public init(maxLineBytes: Int = LineAssembler.defaultMaxLineBytes) {
        precondition(maxLineBytes > 0)
        self.maxLineBytes = maxLineBytes
        partial.reserveCapacity(min(maxLineBytes, 1024))
    }

    /// Adds `bytes`; calls `emit` with every line they complete (without its line end).
    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, _ emit: (String) -> Void) {
        var i = 0
        while i < bytes.count {
            // Whole runs between line ends: the run of a flood without newline is only counted.
            var j = i
            while j < bytes.count && bytes[j] != 0x0a && bytes[j] != 0x0d { j += 1 }
            let room = maxLineBytes - partial.count
            let take = min(room, j - i)
            if take > 0 { partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + take)])) }
            cut += j - i - take
            if j < bytes.count { end(emit) }
            i = j + 1
        }
    }

    /// `feed` for an array's bytes.
    public mutating func feed(_ bytes: [UInt8], _ emit: (String) -> Void) {
        bytes.withUnsafeBufferPointer { feed($0, emit) }
    }

    /// Emits the last line if the output did not end with a line end.
    public mutating func finish(_ emit: (String) -> Void) { end(emit) }

    mutating func end(_ emit: (String) -> Void) {
        defer {
            partial.removeAll(keepingCapacity: true)
            cut = 0
        }
        guard !partial.isEmpty else { return }
        guard cut > 0 else { return emit(String(decoding: partial, as: UTF8.self)) }
        // Do not split a UTF-8 sequence: drop an incomplete one at the cut (counted as cut).
        var keep = partial.count
        var back = keep - 1
        while back > 0 && keep - back < 4 && partial[back] & 0xc0 == 0x80 { back -= 1 }
        let lead = partial[back]
        let length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1
        if lead & 0xc0 == 0xc0 && back + length > keep { keep = back }
        let dropped = cut + partial.count - keep
        emit(String(decoding: partial[..<keep], as: UTF8.self) + " … [\(dropped) bytes cut]")
    }
}
