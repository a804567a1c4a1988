import CAV

/// Owns a demuxing `AVFormatContext` opened on a local file.
final class InputFile {
    let context: UnsafeMutablePointer<AVFormatContext>
    let path: String
    private let cancellation: CancellationFlag

    /// Opens `path` and reads stream parameters. Frames larger than `maxPixels` are
    /// refused by the decoders that `avformat_find_stream_info` opens, so a file that
    /// claims absurd dimensions cannot make us allocate gigabytes while probing.
    init(path: String, maxPixels: Int64, cancellation: CancellationFlag = CancellationFlag()) throws(AVError) {
        self.path = path
        self.cancellation = cancellation
        guard let context = avformat_alloc_context() else { fatalError("avformat_alloc_context: out of memory") }
        context.pointee.interrupt_callback.callback = { opaque in
            guard let opaque else { return 0 }
            return Unmanaged<CancellationFlag>.fromOpaque(opaque).takeUnretainedValue().isCancelled ? 1 : 0
        }
        context.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(cancellation).toOpaque()
        var opened: UnsafeMutablePointer<AVFormatContext>? = context
        // On failure avformat_open_input frees the context and nulls the pointer.
        try check(avformat_open_input(&opened, path, nil, nil), "avformat_open_input")
        guard let opened else { throw AVError(code: AVError.invalidData, operation: "avformat_open_input") }
        self.context = opened

        let streamCount = Int(opened.pointee.nb_streams)
        var options = [OpaquePointer?](repeating: nil, count: max(streamCount, 1))
        for index in 0..<streamCount {
            var dict: OpaquePointer? = nil
            av_dict_set(&dict, "max_pixels", String(maxPixels), 0)
            options[index] = dict
        }
        let status = options.withUnsafeMutableBufferPointer { buffer in
            avformat_find_stream_info(opened, buffer.baseAddress)
        }
        for index in options.indices { av_dict_free(&options[index]) }
        try check(status, "avformat_find_stream_info")
    }

    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&context)
    }

    var streams: [UnsafeMutablePointer<AVStream>] {
        (0..<Int(context.pointee.nb_streams)).compactMap { context.pointee.streams[$0] }
    }

    func stream(_ index: Int32) -> UnsafeMutablePointer<AVStream>? {
        guard index >= 0, index < Int32(context.pointee.nb_streams) else { return nil }
        return context.pointee.streams[Int(index)]
    }

    func bestStream(_ type: AVMediaType) -> Int32? {
        let index = av_find_best_stream(context, type, -1, -1, nil, 0)
        return index >= 0 ? index : nil
    }

    /// Reads the next packet into `packet` (which is unreferenced first).
    /// Returns false at end of file.
    func read(into packet: Packet) throws(AVError) -> Bool {
        packet.unref()
        let status = av_read_frame(context, packet.pointer)
        if status == AVError.eof { return false }
        try check(status, "av_read_frame")
        return true
    }

    /// Rewinds to the start (used after a packet-counting pass).
    func rewind() throws(AVError) {
        try check(avformat_seek_file(context, -1, Int64.min, 0, Int64.max, 0), "avformat_seek_file")
    }
}
