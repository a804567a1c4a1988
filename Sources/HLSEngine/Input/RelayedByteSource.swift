import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A source read through a socket from the process that supervises us: the service
/// fetches the upload (it has the network; a supervised transcoder has none) and answers
/// each read. The engine stays free of network code, and the transcode starts while the
/// upload is still being fetched.
///
/// The exchange, one read at a time (little-endian):
///
///     request:  offset Int64, length UInt32 (at most `maxRead`)
///     answer:   count Int32, then `count` bytes (0: the end; negative: the read failed)
public final class RelayedByteSource: ByteSource, @unchecked Sendable {
    // @unchecked: the descriptor is used under `lock` only.
    public static let maxRead = 1 << 20

    private let descriptor: Int32
    private let lock = NSLock()
    public let size: Int64?
    /// A second relay of the same source, for a reader that must not wait behind this one
    /// (one read at a time per socket: a read the service answers only once its fetch gets
    /// there would hold up every read queued behind it).
    private let concurrent: RelayedByteSource?

    /// `descriptor` is a connected stream socket (or a pipe pair's ends, both the same);
    /// `concurrentDescriptor`, another relay of the same source (`concurrentReader()`).
    public init(descriptor: Int32, size: Int64, concurrentDescriptor: Int32? = nil) throws(TranscodeError.Reason) {
        guard size > 0 else { throw .empty }
        self.descriptor = descriptor
        self.size = size
        concurrent = try concurrentDescriptor.map { descriptor throws(TranscodeError.Reason) in
            try RelayedByteSource(descriptor: descriptor, size: size)
        }
    }

    deinit { close(descriptor) }

    public func concurrentReader() -> any ByteSource { concurrent ?? self }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
        guard offset >= 0, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        lock.lock()
        defer { lock.unlock() }
        var request = [UInt8](repeating: 0, count: 12)
        Self.put(UInt64(bitPattern: offset), into: &request, at: 0, bytes: 8)
        Self.put(UInt64(min(buffer.count, Self.maxRead)), into: &request, at: 8, bytes: 4)
        guard request.withUnsafeBytes({ Self.writeAll(descriptor, $0) }) else { throw .io("the relayed source closed") }
        var header = [UInt8](repeating: 0, count: 4)
        guard header.withUnsafeMutableBytes({ Self.readAll(descriptor, $0) }) else { throw .io("the relayed source closed") }
        let count = Int32(bitPattern: UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24)
        guard count >= 0 else { throw .io("the relayed source could not be read") }
        guard Int(count) <= min(buffer.count, Self.maxRead) else { throw .io("the relayed source sent too much") }
        guard Self.readAll(descriptor, UnsafeMutableRawBufferPointer(start: base, count: Int(count))) else {
            throw .io("the relayed source closed")
        }
        return Int(count)
    }

    public static func put(_ value: UInt64, into bytes: inout [UInt8], at index: Int, bytes count: Int) {
        for byte in 0..<count { bytes[index + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(byte))) }
    }

    public static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            done += count
        }
        return true
    }

    public static func readAll(_ descriptor: Int32, _ bytes: UnsafeMutableRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let count = Glibc.read(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            done += count
        }
        return true
    }
}
