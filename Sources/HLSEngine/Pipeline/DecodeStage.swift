import CAV

/// Demuxes and decodes the source once, on the pipeline's own thread, and fans the
/// result out: every decoded video frame (by reference) and every AAC packet (encoded
/// once here) go to each rendition's queue.
final class DecodeStage {
    private let input: InputFile
    private let info: MediaInfo
    private let workers: [RenditionWorker]
    private let cancellation: CancellationFlag
    private let video: Decoder
    private let audio: AudioChain?
    private var clock: SegmentClock
    /// Source timestamps minus these start on the output timeline at the input's start
    /// (the earliest stream's first timestamp), keeping any A/V offset.
    private let videoOffset: Int64
    private var lastVideoPTS: Int64?
    /// The poster: written from the frame with this index (about 10% in).
    private let poster: (writer: PosterWriter, path: String, frameIndex: Int)?

    private(set) var decodedFrames = 0
    private(set) var corruptPackets = 0

    /// Audio: decoder, resampler to 48 kHz stereo, and the one AAC encoder.
    final class AudioChain {
        let streamIndex: Int32
        let decoder: Decoder
        let resampler: Resampler
        let encoder: Encoder
        let offset: Int64
        var nextPTS: Int64?

        init(stream: UnsafeMutablePointer<AVStream>, startTime: Int64, bitrate: Int, maxPixels: Int64) throws {
            streamIndex = stream.pointee.index
            decoder = try Decoder(stream: stream, threads: 1, maxPixels: maxPixels)
            let sampleRate: Int32 = 48_000
            encoder = try Encoder(codecName: "aac") { context in
                context.pointee.sample_rate = sampleRate
                context.pointee.ch_layout = cav_channel_layout_stereo()
                context.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
                context.pointee.bit_rate = Int64(bitrate)
                context.pointee.time_base = AVRational(num: 1, den: sampleRate)
                context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
            }
            resampler = try Resampler(decoder: decoder.context, sampleRate: sampleRate,
                                      layout: cav_channel_layout_stereo(), format: AV_SAMPLE_FMT_FLTP)
            offset = startTime == noPTS ? 0 : rescale(startTime, from: cav_time_base_q(), to: stream.pointee.time_base)
        }

        var frameSize: Int32 { max(encoder.context.pointee.frame_size, 1024) }
    }

    init(input: InputFile, info: MediaInfo, video: Decoder, audio: AudioChain?, workers: [RenditionWorker],
         segmentDuration: Double, poster: (writer: PosterWriter, path: String, frameIndex: Int)?,
         cancellation: CancellationFlag) {
        self.poster = poster
        self.input = input
        self.info = info
        self.video = video
        self.audio = audio
        self.workers = workers
        self.cancellation = cancellation
        self.clock = SegmentClock(segmentDuration: segmentDuration)
        let start = input.context.pointee.start_time
        self.videoOffset = start == noPTS ? 0 : rescale(start, from: cav_time_base_q(), to: video.timeBase)
    }

    /// Runs to the end of the input. A read error part-way (a cut-off file) ends the
    /// input like EOF; the pipeline then compares frame counts to call it truncated.
    func run() throws {
        let packet = Packet()
        let videoIndex = Int32(info.video.streamIndex)
        while true {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            let more: Bool
            do { more = try input.read(into: packet) } catch { break }
            guard more else { break }
            if packet.streamIndex == videoIndex {
                try decode(packet, with: video, deliver: deliverVideo)
            } else if let audio, packet.streamIndex == audio.streamIndex {
                try decode(packet, with: audio.decoder, deliver: deliverAudio)
            }
        }
        try decode(nil, with: video, deliver: deliverVideo)
        if let audio {
            try decode(nil, with: audio.decoder, deliver: deliverAudio)
            try audio.resampler.push(nil)
            try encodeAudio(final: true)
            try audio.encoder.encode(nil, emit: broadcastAudio)
            broadcast(.audioEnd)
        }
        broadcast(.end)
    }

    /// Sends `packet` (nil drains) and delivers every frame. A packet the decoder
    /// rejects as invalid data is counted and skipped, as the ffmpeg CLI does.
    private func decode(_ packet: Packet?, with decoder: Decoder, deliver: (Frame) throws -> Void) throws {
        do {
            try decoder.send(packet)
        } catch where error.code == AVError.invalidData {
            corruptPackets += 1
            return
        } catch where error.isEOF {
            return
        }
        while true {
            let frame: Frame?
            do { frame = try decoder.receive() } catch where error.code == AVError.invalidData {
                corruptPackets += 1
                continue
            }
            guard let frame else { return }
            try deliver(frame)
        }
    }

    private func deliverVideo(_ frame: Frame) throws {
        if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
        var pts = frame.pointer.pointee.best_effort_timestamp
        if pts == noPTS { pts = (lastVideoPTS ?? videoOffset) + 1 }
        pts -= videoOffset
        // x264 needs strictly increasing timestamps; a duplicate is nudged, never dropped.
        if let last = lastVideoPTS, pts <= last { pts = last + 1 }
        lastVideoPTS = pts
        frame.pts = pts
        let startsSegment = clock.startsSegment(at: Double(pts) * video.timeBase.doubleValue)
        if let poster, decodedFrames == poster.frameIndex { try poster.writer.write(frame, to: poster.path) }
        decodedFrames += 1
        broadcast(.video(frame, startsSegment: startsSegment))
    }

    private func deliverAudio(_ frame: Frame) throws {
        guard let audio else { return }
        if audio.nextPTS == nil {
            let pts = frame.pointer.pointee.best_effort_timestamp
            let start = pts == noPTS ? 0 : pts - audio.offset
            audio.nextPTS = rescale(start, from: audio.decoder.timeBase, to: audio.encoder.timeBase)
        }
        try audio.resampler.push(frame)
        try encodeAudio(final: false)
    }

    /// Re-blocks resampled audio into encoder-sized frames and encodes them.
    private func encodeAudio(final: Bool) throws {
        guard let audio else { return }
        while let block = try audio.resampler.pop(count: audio.frameSize, final: final) {
            block.pts = audio.nextPTS ?? 0
            audio.nextPTS = block.pts + Int64(block.sampleCount)
            try audio.encoder.encode(block, emit: broadcastAudio)
        }
    }

    private func broadcastAudio(_ packet: Packet) throws { broadcast(.audio(packet)) }

    /// Hands `input` to every rendition, blocking on a full queue (back-pressure).
    private func broadcast(_ input: RenditionInput) {
        for worker in workers { worker.queue.push(input) }
    }
}
