import CAV

/// Owns a demuxing `AVFormatContext` reading a `ByteSource` through our own AVIO.
///
/// Opening is the boundary against hostile files:
/// - the format is probed first and must be on `ContainerAllowlist`, so a playlist,
///   an ffconcat script or an image pattern is refused before its header is read;
/// - `format_whitelist` repeats the list, and `protocol_whitelist` allows no protocol at
///   all, so nothing a demuxer parses can make it open another file or a URL;
/// - decoders that `avformat_find_stream_info` opens get `max_pixels`, so a file that
///   claims absurd dimensions cannot make us allocate gigabytes while probing.
final class InputFile {
    let context: UnsafeMutablePointer<AVFormatContext>
    /// The name used in messages (the path, or whatever the caller calls its source).
    let path: String
    private let io: InputIO
    private let cancellation: CancellationFlag

    init(source: any ByteSource, name: String, maxPixels: Int64,
         cancellation: CancellationFlag = CancellationFlag()) throws(TranscodeError.Reason) {
        self.path = name
        self.cancellation = cancellation
        io = try InputIO(source: source)
        guard let pb = io.context else { throw .outOfMemory }

        var format: UnsafePointer<AVInputFormat>? = nil
        let score = av_probe_input_buffer2(pb, &format, nil, nil, 0, 0)
        if let failure = io.failure { throw failure }
        guard score >= 0, let format else { throw .notMedia("no known format") }
        let demuxer = String(cString: format.pointee.name)
        guard ContainerAllowlist.allows(demuxer) else { throw .notVideoContainer(format: demuxer) }

        guard let context = avformat_alloc_context() else { throw .outOfMemory }
        context.pointee.pb = pb
        context.pointee.flags |= AVFMT_FLAG_CUSTOM_IO
        context.pointee.interrupt_callback.callback = { opaque in
            guard let opaque else { return 0 }
            return Unmanaged<CancellationFlag>.fromOpaque(opaque).takeUnretainedValue().isCancelled ? 1 : 0
        }
        context.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(cancellation).toOpaque()
        var options: OpaquePointer? = nil
        av_dict_set(&options, "format_whitelist", ContainerAllowlist.whitelistOption, 0)
        av_dict_set(&options, "protocol_whitelist", "none", 0)
        defer { av_dict_free(&options) }
        var opened: UnsafeMutablePointer<AVFormatContext>? = context
        // On failure avformat_open_input frees the context and nulls the pointer.
        let status = avformat_open_input(&opened, nil, format, &options)
        if let failure = io.failure { throw failure }
        // Reading a header allocates little; ENOMEM here is libavutil refusing an index
        // that claims more entries than any real file has (its 2 GiB allocation cap).
        if status == cav_error_nomem() { throw .outOfRange("the size of the file's index") }
        guard status >= 0, let opened else { throw .notMedia(AVError(code: status, operation: "open").message) }
        self.context = opened

        let streamCount = Int(opened.pointee.nb_streams)
        var streamOptions = [OpaquePointer?](repeating: nil, count: max(streamCount, 1))
        for index in 0..<streamCount {
            var dict: OpaquePointer? = nil
            av_dict_set(&dict, "max_pixels", String(maxPixels), 0)
            streamOptions[index] = dict
        }
        let found = streamOptions.withUnsafeMutableBufferPointer { buffer in
            avformat_find_stream_info(opened, buffer.baseAddress)
        }
        for index in streamOptions.indices { av_dict_free(&streamOptions[index]) }
        if let failure = io.failure { throw failure }
        if found == cav_error_nomem() { throw .outOfMemory }
        if found < 0 { throw .notMedia(AVError(code: found, operation: "find_stream_info").message) }
    }

    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = context
        // Custom IO: this frees the format context, not our AVIOContext (InputIO owns it).
        avformat_close_input(&context)
    }

    /// The read failure behind a failed `av_read_frame`, if it was the source's.
    var sourceFailure: TranscodeError.Reason? { io.failure }

    var streams: [UnsafeMutablePointer<AVStream>] {
        (0..<Int(context.pointee.nb_streams)).compactMap { context.pointee.streams[$0] }
    }

    func stream(_ index: Int32) -> UnsafeMutablePointer<AVStream>? {
        guard index >= 0, UInt32(index) < context.pointee.nb_streams else { return nil }
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

    /// Whether the demuxer seeks to a sample from an index of every sample (MP4 and MOV's
    /// sample tables), so a read that starts mid-file starts where it should. Others
    /// (Matroska's cues index keyframes, MPEG-TS has no index) are read from the start.
    var seeksToEverySample: Bool {
        guard let format = context.pointee.iformat else { return false }
        return String(cString: format.pointee.name).split(separator: ",").contains("mp4")
    }

    /// Moves to the keyframe of `stream` at or before `timestamp` (in the stream's time
    /// base), so decoding from there reaches that time with every reference it needs.
    func seek(stream: Int32, toKeyframeAtOrBefore timestamp: Int64) throws(AVError) {
        try check(av_seek_frame(context, stream, timestamp, AVSEEK_FLAG_BACKWARD), "av_seek_frame")
    }
}
