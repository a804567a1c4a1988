import CAV

/// Converts decoded audio of any layout and rate to the output format and re-blocks
/// it into the encoder's frame size (1024 samples for AAC) through an `AVAudioFifo`.
final class Resampler {
    private var swr: OpaquePointer?
    private let fifo: OpaquePointer
    let sampleRate: Int32
    let format: AVSampleFormat
    private var layout: AVChannelLayout

    init(decoder: UnsafeMutablePointer<AVCodecContext>, sampleRate: Int32,
         layout: AVChannelLayout, format: AVSampleFormat) throws(AVError) {
        self.sampleRate = sampleRate
        self.format = format
        self.layout = layout
        var inputLayout = AVChannelLayout()
        if decoder.pointee.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || decoder.pointee.ch_layout.nb_channels == 0 {
            av_channel_layout_default(&inputLayout, max(1, decoder.pointee.ch_layout.nb_channels))
        } else {
            try check(av_channel_layout_copy(&inputLayout, &decoder.pointee.ch_layout), "av_channel_layout_copy")
        }
        defer { av_channel_layout_uninit(&inputLayout) }
        var context: OpaquePointer? = nil
        try check(swr_alloc_set_opts2(&context, &self.layout, format, sampleRate,
                                      &inputLayout, decoder.pointee.sample_fmt, decoder.pointee.sample_rate,
                                      0, nil), "swr_alloc_set_opts2")
        swr = context
        try check(swr_init(context), "swr_init")
        guard let fifo = av_audio_fifo_alloc(format, self.layout.nb_channels, 4096) else {
            fatalError("av_audio_fifo_alloc: out of memory")
        }
        self.fifo = fifo
    }

    deinit {
        swr_free(&swr)
        av_audio_fifo_free(fifo)
    }

    var bufferedSamples: Int32 { av_audio_fifo_size(fifo) }

    /// Converts `frame` (nil drains the resampler's delay) and queues the samples.
    func push(_ frame: Frame?) throws(AVError) {
        let output = Frame()
        output.pointer.pointee.format = format.rawValue
        output.pointer.pointee.sample_rate = sampleRate
        try check(av_channel_layout_copy(&output.pointer.pointee.ch_layout, &layout), "av_channel_layout_copy")
        var status = swr_convert_frame(swr, output.pointer, frame?.pointer)
        if status == cav_error_input_changed(), let frame {
            // The decoder changed rate or layout mid-stream (bit flips do this): follow it,
            // within bounds. A frame beyond them is refused like a corrupt one.
            let format = frame.pointer.pointee
            guard SourceBounds.sampleRate.contains(format.sample_rate),
                  SourceBounds.channels.contains(format.ch_layout.nb_channels) else {
                throw AVError(code: AVError.invalidData, operation: "swr_config_frame")
            }
            try check(swr_config_frame(swr, output.pointer, frame.pointer), "swr_config_frame")
            try check(swr_init(swr), "swr_init")
            status = swr_convert_frame(swr, output.pointer, frame.pointer)
        }
        try check(status, "swr_convert_frame")
        guard output.sampleCount > 0 else { return }
        let written = output.pointer.pointee.extended_data.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: Int(layout.nb_channels)) {
            av_audio_fifo_write(fifo, $0, output.sampleCount)
        }
        try check(written, "av_audio_fifo_write")
    }

    /// A new frame of `samples` in the output format, with its buffers allocated.
    private func outputFrame(samples: Int32) throws(AVError) -> Frame {
        let frame = Frame()
        frame.pointer.pointee.format = format.rawValue
        frame.pointer.pointee.sample_rate = sampleRate
        frame.pointer.pointee.nb_samples = samples
        try check(av_channel_layout_copy(&frame.pointer.pointee.ch_layout, &layout), "av_channel_layout_copy")
        try check(av_frame_get_buffer(frame.pointer, 0), "av_frame_get_buffer(audio)")
        return frame
    }

    /// Queues `count` samples of silence (a gap where corrupt packets were dropped).
    func pushSilence(_ count: Int32) throws(AVError) {
        guard count > 0 else { return }
        let frame = try outputFrame(samples: count)
        try check(av_samples_set_silence(frame.pointer.pointee.extended_data, 0, count, layout.nb_channels, format),
                  "av_samples_set_silence")
        let written = frame.pointer.pointee.extended_data.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: Int(layout.nb_channels)) {
            av_audio_fifo_write(fifo, $0, count)
        }
        try check(written, "av_audio_fifo_write")
    }

    /// Drops the first `count` queued samples (at most what is queued).
    func discard(_ count: Int32) throws(AVError) {
        guard count > 0 else { return }
        try check(av_audio_fifo_drain(fifo, min(count, av_audio_fifo_size(fifo))), "av_audio_fifo_drain")
    }

    /// A frame of exactly `count` samples, or fewer when `final` and less is left; nil
    /// when not enough samples are queued.
    func pop(count: Int32, final: Bool = false) throws(AVError) -> Frame? {
        let available = av_audio_fifo_size(fifo)
        guard available >= count || (final && available > 0) else { return nil }
        let samples = min(count, available)
        let frame = try outputFrame(samples: samples)
        let read = frame.pointer.pointee.extended_data.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: Int(layout.nb_channels)) {
            av_audio_fifo_read(fifo, $0, samples)
        }
        try check(read, "av_audio_fifo_read")
        return frame
    }
}
