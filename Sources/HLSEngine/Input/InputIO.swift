import CAV

/// An `AVIOContext` over a `ByteSource`: the only way libavformat reads a source. It
/// tracks its own position, answers AVSEEK_SIZE, and reports a failed read as an error
/// (EIO), which the demuxer turns into a failed `av_read_frame`.
final class InputIO {
    let source: any ByteSource
    private(set) var context: UnsafeMutablePointer<AVIOContext>?
    private var position: Int64 = 0
    /// The first read failure, for the error message (the demuxer only sees EIO).
    private(set) var failure: TranscodeError.Reason?

    init(source: any ByteSource) throws(TranscodeError.Reason) {
        self.source = source
        let bufferSize: Int32 = 1 << 16
        guard let buffer = av_malloc(Int(bufferSize)) else { throw .outOfMemory }
        let context = avio_alloc_context(
            buffer.assumingMemoryBound(to: UInt8.self), bufferSize, 0, nil,
            { opaque, bytes, count in
                guard let opaque, let bytes, count > 0 else { return cav_error_eof() }
                return Unmanaged<InputIO>.fromOpaque(opaque).takeUnretainedValue().read(bytes, count: count)
            }, nil,
            { opaque, offset, whence in
                guard let opaque else { return -1 }
                return Unmanaged<InputIO>.fromOpaque(opaque).takeUnretainedValue().seek(offset, whence: whence)
            })
        guard let context else { av_free(buffer); throw .outOfMemory }
        self.context = context
        context.pointee.opaque = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        if let context { freeCustomIO(context) }
    }

    private func read(_ bytes: UnsafeMutablePointer<UInt8>, count: Int32) -> Int32 {
        do {
            let read = try source.read(at: position, into: UnsafeMutableRawBufferPointer(start: bytes, count: Int(count)))
            // A source that claims more than was asked for is held to the buffer's size.
            guard read > 0, read <= Int(count) else { return read > 0 ? cav_error_io() : cav_error_eof() }
            position += Int64(read)
            return Int32(read)
        } catch {
            failure = failure ?? error
            return cav_error_io()
        }
    }

    private func seek(_ offset: Int64, whence: Int32) -> Int64 {
        let size = source.size
        let target: Int64?
        switch whence & ~cav_avseek_force() {
        case cav_avseek_size(): return size ?? -1
        case SEEK_SET: target = offset
        case SEEK_CUR: target = position.addingReportingOverflow(offset).overflow ? nil : position + offset
        case SEEK_END: target = size.flatMap { $0.addingReportingOverflow(offset).overflow ? nil : $0 + offset }
        default: target = nil
        }
        guard let target, target >= 0 else { return -1 }
        position = target
        return target
    }
}
