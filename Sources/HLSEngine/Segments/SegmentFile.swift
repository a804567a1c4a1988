import CAV
import Foundation

/// Where the muxer's bytes go: the file of the segment being written, counted.
/// libavformat writes through an `AVIOContext` whose callback lands here, so one
/// muxer (with continuous timestamps) can be cut into many files.
///
/// A segment is written as `NAME.part` and renamed to `NAME` when it is closed, so a
/// segment that exists is complete: a player or uploader may take it while the
/// rest of the ladder is still being encoded.
final class SegmentFile {
    private var handle: UnsafeMutablePointer<FILE>?
    private(set) var path: String?
    private var partPath: String?
    private(set) var bytesWritten: Int64 = 0
    private(set) var failure: String?

    func open(_ path: String) throws(TranscodeError.Reason) {
        close()
        let part = path + ".part"
        guard let handle = fopen(part, "wb") else {
            throw .io("cannot create \(part): \(String(cString: strerror(errno)))")
        }
        self.handle = handle
        self.path = path
        self.partPath = part
        bytesWritten = 0
    }

    /// Closes the current file; later bytes are discarded (e.g. a trailer we do not need).
    @discardableResult
    func close() -> Int64 {
        if let handle, let path, let partPath {
            if fclose(handle) != 0, failure == nil { failure = "close \(path): \(String(cString: strerror(errno)))" }
            if failure == nil, rename(partPath, path) != 0 {
                failure = "rename \(partPath): \(String(cString: strerror(errno)))"
            }
        }
        handle = nil
        partPath = nil
        return bytesWritten
    }

    /// Called from the AVIO write callback. Returns the count written, or AVERROR(errno).
    func write(_ buffer: UnsafePointer<UInt8>, count: Int) -> Int32 {
        guard let handle else { return Int32(count) }  // discarding
        let written = fwrite(buffer, 1, count, handle)
        guard written == count else {
            let code = errno
            failure = "write \(path ?? ""): \(String(cString: strerror(code)))"
            return cav_averror(code)
        }
        bytesWritten += Int64(count)
        return Int32(count)
    }

    deinit { close() }
}
