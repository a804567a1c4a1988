import Foundation

/// Where the muxer's bytes go: the file of the segment being written, counted.
/// libavformat writes through an `AVIOContext` whose callback lands here, so one
/// muxer (with continuous timestamps) can be cut into many files.
final class SegmentFile {
    private var handle: UnsafeMutablePointer<FILE>?
    private(set) var path: String?
    private(set) var bytesWritten: Int64 = 0
    private(set) var failure: String?

    func open(_ path: String) throws(TranscodeError.Reason) {
        close()
        guard let handle = fopen(path, "wb") else {
            throw .io("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        self.handle = handle
        self.path = path
        bytesWritten = 0
    }

    /// Closes the current file; later bytes are discarded (e.g. a trailer we do not need).
    @discardableResult
    func close() -> Int64 {
        if let handle {
            if fclose(handle) != 0, failure == nil { failure = "close \(path ?? ""): \(String(cString: strerror(errno)))" }
        }
        handle = nil
        return bytesWritten
    }

    /// Called from the AVIO write callback. Returns the count written or -1.
    func write(_ buffer: UnsafePointer<UInt8>, count: Int) -> Int32 {
        guard let handle else { return Int32(count) }  // discarding
        let written = fwrite(buffer, 1, count, handle)
        guard written == count else {
            failure = "write \(path ?? ""): \(String(cString: strerror(errno)))"
            return -1
        }
        bytesWritten += Int64(count)
        return Int32(count)
    }

    deinit { close() }
}
