import CAV

/// libav*'s own log output (stderr). The engine reports problems through typed
/// errors, so embedders usually keep this at `.error` or `.quiet`.
public enum LibraryLog {
    public enum Level: Int32, Sendable {
        case quiet = -8, error = 16, warning = 24, info = 32, debug = 48
    }

    public static func setLevel(_ level: Level) { av_log_set_level(level.rawValue) }
}
