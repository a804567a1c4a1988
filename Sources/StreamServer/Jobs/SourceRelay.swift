import Foundation
import HLSEngine
#if canImport(Glibc)
import Glibc
#endif

/// The service's end of `RelayedByteSource`: answers a supervised child's reads from a
/// `ByteSource` (a `StreamingSource` still being fetched), on a thread of its own, until
/// the child closes its end. The child is untrusted: every request is bounded, and a
/// malformed one ends the relay (the child's next read then fails).
enum SourceRelay {
    static func start(_ source: any ByteSource, descriptor: Int32) {
        let thread = Thread {
            serve(source, descriptor: descriptor)
            close(descriptor)
        }
        thread.name = "vstream.source-relay"
        thread.start()
    }

    private static func serve(_ source: any ByteSource, descriptor: Int32) {
        var request = [UInt8](repeating: 0, count: 12)
        var buffer = [UInt8](repeating: 0, count: RelayedByteSource.maxRead)
        while request.withUnsafeMutableBytes({ RelayedByteSource.readAll(descriptor, $0) }) {
            var offset: UInt64 = 0
            for byte in 0..<8 { offset |= UInt64(request[byte]) << (8 * UInt64(byte)) }
            var length: UInt64 = 0
            for byte in 0..<4 { length |= UInt64(request[8 + byte]) << (8 * UInt64(byte)) }
            let wanted = Int(min(length, UInt64(RelayedByteSource.maxRead)))
            var count: Int32
            if let signed = Int64(exactly: offset), wanted > 0 {
                do {
                    let read = try buffer.withUnsafeMutableBytes { bytes throws(TranscodeError.Reason) in
                        try source.read(at: signed, into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<wanted]))
                    }
                    count = Int32(clamping: read)
                } catch {
                    count = -1
                }
            } else {
                count = wanted == 0 ? 0 : -1
            }
            var header = [UInt8](repeating: 0, count: 4)
            RelayedByteSource.put(UInt64(UInt32(bitPattern: count)), into: &header, at: 0, bytes: 4)
            guard header.withUnsafeBytes({ RelayedByteSource.writeAll(descriptor, $0) }) else { return }
            if count > 0 {
                guard buffer.withUnsafeBytes({ RelayedByteSource.writeAll(descriptor, UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) })
                else { return }
            }
        }
    }
}
