import CAV

/// Owns a decoding `AVCodecContext` for one input stream.
final class Decoder {
    let context: UnsafeMutablePointer<AVCodecContext>
    let timeBase: AVRational

    /// - Parameter threads: 0 lets libavcodec pick (frame + slice threading).
    init(stream: UnsafeMutablePointer<AVStream>, threads: Int32 = 0, maxPixels: Int64) throws(TranscodeError.Reason) {
        guard let parameters = stream.pointee.codecpar else { throw .unsupportedCodec("none") }
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            let name = String(cString: avcodec_get_name(parameters.pointee.codec_id))
            throw .unsupportedCodec(name)
        }
        guard let context = avcodec_alloc_context3(codec) else { fatalError("avcodec_alloc_context3: out of memory") }
        self.context = context
        self.timeBase = stream.pointee.time_base
        do {
            try check(avcodec_parameters_to_context(context, parameters), "avcodec_parameters_to_context")
            context.pointee.thread_count = threads
            context.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
            context.pointee.pkt_timebase = stream.pointee.time_base
            context.pointee.max_pixels = maxPixels
            try check(avcodec_open2(context, codec, nil), "avcodec_open2(\(String(cString: codec.pointee.name)))")
        } catch {
            throw .ffmpeg(error)
        }
    }

    deinit { var context: UnsafeMutablePointer<AVCodecContext>? = context; avcodec_free_context(&context) }

    /// Sends one packet (nil flushes). On success the decoder holds its own reference;
    /// the caller keeps ownership of `packet`. EAGAIN never happens here because
    /// `receive` drains every frame after each send.
    func send(_ packet: Packet?) throws(AVError) {
        try check(avcodec_send_packet(context, packet?.pointer), "avcodec_send_packet")
    }

    /// The next decoded frame, a new `Frame` owned by the caller; nil when the decoder
    /// needs more input (EAGAIN) or is fully drained (EOF).
    func receive() throws(AVError) -> Frame? {
        let frame = Frame()
        let status = avcodec_receive_frame(context, frame.pointer)
        if status == AVError.tryAgain || status == AVError.eof { return nil }
        try check(status, "avcodec_receive_frame")
        return frame
    }

    /// Drops every frame held for reordering and every reference (after a seek).
    func flush() { avcodec_flush_buffers(context) }
}

extension Decoder {
    /// Sends `packet` (nil drains) and hands every frame to `deliver`, skipping what the
    /// decoder rejects, as the ffmpeg CLI does: corrupt bytes give INVALIDDATA, but also
    /// EINVAL, "bug" or "patch welcome". Each rejection calls `rejected` (the callers count
    /// damage); only running out of memory stops the run, and a decoder that fails 64 times
    /// for one packet yields nothing more from it.
    func decodeSkippingDamage(_ packet: Packet?, rejected: () -> Void = {}, deliver: (Frame) throws -> Void) throws {
        do {
            try send(packet)
        } catch where error.isEOF {
            return
        } catch {
            if error.code == AVError.outOfMemory { throw TranscodeError.Reason.outOfMemory }
            rejected()
            if packet != nil { return }
        }
        var failures = 0
        while true {
            let frame: Frame?
            do { frame = try receive() } catch {
                if error.code == AVError.outOfMemory { throw TranscodeError.Reason.outOfMemory }
                rejected()
                failures += 1
                if failures > 64 { return }
                continue
            }
            guard let frame else { return }
            try deliver(frame)
        }
    }
}
