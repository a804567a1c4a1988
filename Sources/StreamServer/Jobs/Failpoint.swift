import Foundation

/// Named places where a test can make a worker die as `kill -9` would, to prove the
/// recovery paths (in the manner of FreeBSD's fail(9) and TiKV's fail-rs). Off unless
/// `VSTREAM_FAILPOINT` names one; never set it in production.
enum Failpoint: String, Sendable {
    /// Every output object is stored, READY is not yet committed.
    case afterOutputsStored = "after-outputs-stored"
    /// The audio task of a chunked video has stored a segment at its key (past chunk 0's preview).
    case afterAudioSegmentStored = "after-audio-segment-stored"

    static let armed: Failpoint? = ProcessInfo.processInfo.environment["VSTREAM_FAILPOINT"].flatMap(Failpoint.init)

    static func hit(_ point: Failpoint) {
        guard armed == point else { return }
        FileHandle.standardError.write(Data("vstream: failpoint \(point.rawValue): exiting as if killed\n".utf8))
        _exit(137)
    }
}
