import CAV

/// Owns one `AVPacket`. Its payload is reference-counted, so `reference()` shares
/// the bytes: the one AAC packet stream is muxed into every variant this way.
public final class Packet: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<AVPacket>

    init() {
        guard let packet = av_packet_alloc() else { fatalError("av_packet_alloc: out of memory") }
        pointer = packet
    }

    deinit { var packet: UnsafeMutablePointer<AVPacket>? = pointer; av_packet_free(&packet) }

    func reference() throws(AVError) -> Packet {
        let copy = Packet()
        try check(av_packet_ref(copy.pointer, pointer), "av_packet_ref")
        return copy
    }

    var streamIndex: Int32 { pointer.pointee.stream_index }
    var pts: Int64 { pointer.pointee.pts }
    var dts: Int64 { pointer.pointee.dts }
    var duration: Int64 { pointer.pointee.duration }
    var size: Int32 { pointer.pointee.size }
    var isKeyframe: Bool { pointer.pointee.flags & AV_PKT_FLAG_KEY != 0 }
    /// The demuxer marked it damaged: libavformat does so for a packet the file ends inside.
    var isMarkedCorrupt: Bool { pointer.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 }
    var bytes: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: pointer.pointee.data, count: Int(pointer.pointee.size))
    }
    func unref() { av_packet_unref(pointer) }
}
