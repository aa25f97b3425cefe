import ArgumentParser
import BorgPullSystem

struct RelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "borg's remote shell (BORG_RSH): copy stdin and stdout to the forwarded socket.",
        discussion: """
            Set by BACKUP and `borg`; not meant to be typed.
            Connects to --socket, checks with SO_PEERCRED that the listener runs as --peer-uid (sshd as the ssh user), then relays.
            borg appends a host and a remote command; they are ignored (the server decides what serves).
            Exit status 0, or 255 when the socket cannot be reached or its peer is wrong.
            """)

    @Option(help: "The forwarded Unix socket.") var socket: String
    @Option(help: "The uid the socket's listener must run as.") var peerUid: UInt32
    @Argument(parsing: .captureForPassthrough, help: "Ignored: what borg appends (host, borg serve ...).")
    var ignored: [String] = []

    func run() throws {
        throw ExitCode(Relay.run(socketPath: socket, peerUID: peerUid))
    }
}
