import Glibc
import Logging

/// A swift-log handler writing `PROGRAM: LEVEL: message` lines to stderr (the journal under
/// systemd adds time and pid itself).
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let program: String

    public init(program: String) { self.program = program }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let text = "\(program): \(event.level): \(event.message)\n"
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Installs the handler once per process.
    public static func bootstrap(program: String, level: Logger.Level = .info) {
        LoggingSystem.bootstrap { _ in
            var h = StderrLogHandler(program: program)
            h.logLevel = level
            return h
        }
    }
}
