import CAV

/// Owns an encoding `AVCodecContext`. The caller configures it in `configure`,
/// before `avcodec_open2`.
final class Encoder {
    let context: UnsafeMutablePointer<AVCodecContext>
    let name: String

    init(codecName: String, options: [String: String] = [:],
         configure: (UnsafeMutablePointer<AVCodecContext>) -> Void) throws(AVError) {
        guard let codec = avcodec_find_encoder_by_name(codecName) else {
            throw AVError(code: cav_averror(ENOENT), operation: "avcodec_find_encoder_by_name(\(codecName))")
        }
        guard let context = avcodec_alloc_context3(codec) else { fatalError("avcodec_alloc_context3: out of memory") }
        self.context = context
        self.name = codecName
        configure(context)
        var dictionary: OpaquePointer? = nil
        for (key, value) in options.sorted(by: { $0.key < $1.key }) { av_dict_set(&dictionary, key, value, 0) }
        defer { av_dict_free(&dictionary) }
        try check(avcodec_open2(context, codec, &dictionary), "avcodec_open2(\(codecName))")
    }

    deinit { var context: UnsafeMutablePointer<AVCodecContext>? = context; avcodec_free_context(&context) }

    var timeBase: AVRational { context.pointee.time_base }

    /// x264's reorder delay in frames (`has_b_frames`: 0, 1 or 2). A property, so the read
    /// keeps the encoder alive: `makeEncoder().context.pointee` read a freed context.
    var reorderDelay: Int { Int(max(0, context.pointee.has_b_frames)) }

    /// Sends a frame (nil to flush) and hands every packet that comes out to `emit`.
    /// The encoder takes its own reference to the frame; the caller keeps `frame`.
    /// An EAGAIN from send (encoder full) is answered by draining, then sending again,
    /// so no frame is ever dropped.
    func encode(_ frame: Frame?, emit: (Packet) throws -> Void) throws {
        while true {
            let status = avcodec_send_frame(context, frame?.pointer)
            if status == AVError.tryAgain {
                try drain(emit)
                continue
            }
            try check(status, "avcodec_send_frame(\(name))")
            break
        }
        try drain(emit)
    }

    /// Receives packets until the encoder wants input (EAGAIN) or is done (EOF).
    /// Each packet is a new `Packet` owned by `emit`.
    private func drain(_ emit: (Packet) throws -> Void) throws {
        while true {
            let packet = Packet()
            let status = avcodec_receive_packet(context, packet.pointer)
            if status == AVError.tryAgain || status == AVError.eof { return }
            try check(status, "avcodec_receive_packet(\(name))")
            try emit(packet)
        }
    }
}
