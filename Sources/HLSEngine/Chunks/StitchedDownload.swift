import CAV
import Foundation

/// `download.mp4` of a stitched ladder: the download rung's segments and the audio's,
/// each read as one file (fMP4: its `init.mp4` then every segment, in order; TS: the
/// segments, which concatenate as they are), and
/// remuxed into one progressive MP4 with `+faststart`. Stream copy: nothing is decoded
/// or encoded, so it costs a read and a write of the rung.
///
/// Written as `download.mp4.part` and renamed when whole, like `DownloadMuxer`'s.
enum StitchedDownload {
    /// - Parameters:
    ///   - video: the rung's folder in the ladder, and its segment files in order.
    ///   - audio: the audio rendition's folder and segments, when there is audio.
    /// - Returns: the file's size.
    ///   - shift: seconds the segments' timestamps were moved by; taken back off.
    ///   - format: the segments' container.
    static func write(to directory: String, video: (folder: String, segments: [String]),
                      audio: (folder: String, segments: [String])?, shift: Double, format: SegmentFormat = .fmp4) throws -> Int64 {
        let path = directory + "/" + TranscodeResult.Download.fileName
        let part = path + ".part"
        var joined: [String] = []
        defer { for file in joined { unlink(file) } }
        var inputs: [InputFile] = []
        for track in [video] + (audio.map { [$0] } ?? []) {
            let file = directory + "/.\(UUID().uuidString.prefix(8)).joined.\(format == .fmp4 ? "mp4" : "ts")"
            joined.append(file)
            let head = format.initializationName.map { [track.folder + "/" + $0] } ?? []
            try concatenate(head + track.segments.map { track.folder + "/" + $0 }, into: file)
            inputs.append(try MediaProbe.open(try FileByteSource(path: file), name: file))
        }
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        try check(avformat_alloc_output_context2(&context, nil, "mp4", part), "avformat_alloc_output_context2(mp4)")
        guard let context else { throw AVError(code: AVError.invalidData, operation: "avformat_alloc_output_context2") }
        var opened = false
        var done = false
        defer {
            if opened { avio_closep(&context.pointee.pb) }
            avformat_free_context(context)
            if !done { unlink(part) }
        }
        // One output stream per input (each fragmented file holds one track).
        var timeBases: [AVRational] = []
        for input in inputs {
            guard let source = input.stream(0), let stream = avformat_new_stream(context, nil) else {
                throw TranscodeError.Reason.chunking("a stitched track has no stream")
            }
            try check(avcodec_parameters_copy(stream.pointee.codecpar, source.pointee.codecpar), "avcodec_parameters_copy")
            stream.pointee.codecpar.pointee.codec_tag = 0
            stream.pointee.time_base = source.pointee.time_base
            timeBases.append(source.pointee.time_base)
        }
        try check(avio_open(&context.pointee.pb, part, AVIO_FLAG_WRITE), "avio_open(download.mp4.part)")
        opened = true
        var options: OpaquePointer? = nil
        defer { av_dict_free(&options) }
        av_dict_set(&options, "movflags", "+faststart", 0)
        try check(avformat_write_header(context, &options), "avformat_write_header(mp4)")
        // Merge the tracks by decode time; the muxer interleaves what is left.
        var pending: [Packet?] = try inputs.map { input in
            let packet = Packet()
            return try input.read(into: packet) ? packet : nil
        }
        var lastDurations = [Int64](repeating: 0, count: inputs.count)
        while true {
            let waiting = pending.enumerated().compactMap { index, packet in packet.map { (index, $0) } }
            let next = waiting.min { a, b in av_compare_ts(a.1.dts, timeBases[a.0], b.1.dts, timeBases[b.0]) < 0 }
            guard let (index, packet) = next else { break }
            packet.pointer.pointee.stream_index = Int32(index)
            let following = Packet()
            let more = try inputs[index].read(into: following)
            // Fragments read back give no sample durations: each lasts until the next
            // sample's decode time, and the last as long as the one before it (without
            // one, the MP4's edit list would leave the last frame out).
            if packet.pointer.pointee.duration <= 0 {
                packet.pointer.pointee.duration = more && following.dts > packet.dts ? following.dts - packet.dts : lastDurations[index]
            }
            lastDurations[index] = packet.pointer.pointee.duration
            let back = av_rescale_q(Int64((shift * 1_000_000).rounded(.up)), AVRational(num: 1, den: 1_000_000), timeBases[index])
            packet.pointer.pointee.pts -= back
            packet.pointer.pointee.dts -= back
            if let target = context.pointee.streams[index] {
                av_packet_rescale_ts(packet.pointer, timeBases[index], target.pointee.time_base)
            }
            try check(av_interleaved_write_frame(context, packet.pointer), "av_interleaved_write_frame(mp4)")
            pending[index] = more ? following : nil
        }
        try check(av_write_trailer(context), "av_write_trailer(mp4)")
        avio_closep(&context.pointee.pb)
        opened = false
        guard rename(part, path) == 0 else { throw TranscodeError.Reason.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        done = true
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// `files`, one after another, into `target`.
    private static func concatenate(_ files: [String], into target: String) throws {
        guard FileManager.default.createFile(atPath: target, contents: nil), let out = FileHandle(forWritingAtPath: target) else {
            throw TranscodeError.Reason.io("cannot write \(target)")
        }
        defer { try? out.close() }
        for file in files {
            guard let input = FileHandle(forReadingAtPath: file) else { throw TranscodeError.Reason.chunking("\(file) is missing") }
            defer { try? input.close() }
            while let block = try input.read(upToCount: 1 << 20), !block.isEmpty { try out.write(contentsOf: block) }
        }
    }
}
