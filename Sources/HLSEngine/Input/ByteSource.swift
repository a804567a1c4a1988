import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the engine reads a source's bytes. libavformat reads only through this (our own
/// AVIO, never a URL or path of its choosing), so a hostile file cannot make it open
/// anything else. A service can pass a source backed by its storage; the engine itself
/// does no network I/O.
///
/// Reads are positional, so one source can be opened more than once (a packet-counting
/// pass, then the transcode) and a storage-backed source can serve ranged reads.
public protocol ByteSource: AnyObject, Sendable {
    /// Reads up to `buffer.count` bytes at `offset`. Returns how many were read, and 0
    /// only at the end. Throws `TranscodeError.Reason.io` when the bytes cannot be had.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int
    /// The total size in bytes, when known.
    var size: Int64? { get }
    /// The same bytes for a second reader whose reads must not queue behind this one's: the
    /// loudness measurement reads the whole source beside the transcode. Itself, where reads
    /// are independent already (a file, memory).
    func concurrentReader() -> any ByteSource
}

extension ByteSource {
    public func concurrentReader() -> any ByteSource { self }
}

/// A local file, read with pread.
public final class FileByteSource: ByteSource {
    private let descriptor: Int32
    public let size: Int64?

    /// Opens `path` for reading. A missing file, a directory or an unreadable file is a
    /// typed `.io` reason; an empty file is `.empty`.
    public init(path: String) throws(TranscodeError.Reason) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .io("cannot read the file: \(errno == ENOENT ? "no such file" : String(cString: strerror(errno)))")
        }
        if info.st_mode & S_IFMT == S_IFDIR { throw .io("is a directory, not a file") }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .io("cannot read the file: \(errno == EACCES ? "permission denied" : String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        self.size = Int64(info.st_size)
        if info.st_size == 0 { throw .empty }
    }

    deinit { close(descriptor) }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
        while true {
            let count = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if count >= 0 { return count }
            if errno != EINTR { throw .io("cannot read the file: \(String(cString: strerror(errno)))") }
        }
    }
}

/// Bytes already in memory (the fuzzer's input, or an app's).
public final class MemoryByteSource: ByteSource {
    private let bytes: [UInt8]
    public var size: Int64? { Int64(bytes.count) }

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
        guard offset >= 0, offset < Int64(bytes.count) else { return 0 }
        let start = Int(offset)
        let count = min(buffer.count, bytes.count - start)
        bytes.withUnsafeBytes { source in
            buffer.baseAddress?.copyMemory(from: source.baseAddress! + start, byteCount: count)
        }
        return count
    }
}
