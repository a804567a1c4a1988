import CAV
import Foundation

/// Reads what a media file holds without decoding it: streams, codecs, the displayed
/// size, frame rate and the exact video frame count.
public enum MediaProbe {
    /// No side of a video may exceed this many pixels.
    public static let maxDimension = SourceBounds.maxDimension

    /// Probes the file at `path`.
    /// - Throws: `TranscodeError` naming the input: empty, not media, not a video
    ///   container, no video stream, an unsupported codec, dimensions over
    ///   ``maxDimension``, or a value out of range.
    public static func probe(_ path: String) throws(TranscodeError) -> MediaInfo {
        do {
            let input = try open(FileByteSource(path: path), name: path)
            return try describe(input, countPackets: true)
        } catch let reason {
            throw TranscodeError(input: path, reason: reason)
        }
    }

    /// Probes bytes from any source (`name` is used in messages).
    public static func probe(_ source: any ByteSource, name: String) throws(TranscodeError) -> MediaInfo {
        do {
            return try describe(try open(source, name: name), countPackets: true)
        } catch let reason {
            throw TranscodeError(input: name, reason: reason)
        }
    }

    /// Opens `source`, classifying failures as the user would describe them.
    static func open(_ source: any ByteSource, name: String,
                     cancellation: CancellationFlag = CancellationFlag()) throws(TranscodeError.Reason) -> InputFile {
        if source.size == 0 { throw .empty }
        do {
            return try InputFile(source: source, name: name, maxPixels: SourceBounds.maxPixels, cancellation: cancellation)
        } catch {
            if cancellation.wasCancelledByRequest { throw .cancelled }
            throw error
        }
    }

    /// The first video stream that is real video (not cover art).
    static func videoStreamIndex(_ input: InputFile) -> Int32? {
        let candidates = input.streams.enumerated().filter { _, stream in
            stream.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
                && stream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0
        }
        if let best = input.bestStream(AVMEDIA_TYPE_VIDEO),
           candidates.contains(where: { $0.offset == Int(best) }) {
            return best
        }
        return candidates.first.map { Int32($0.offset) }
    }

    static func audioStreamIndex(_ input: InputFile) -> Int32? { input.bestStream(AVMEDIA_TYPE_AUDIO) }

    /// Builds `MediaInfo`. With `countPackets`, a file whose container does not store
    /// the frame count gets a packet-counting pass (demux only, no decoding).
    ///
    /// Every number taken from the file passes through a bounded type (`SourceBounds`)
    /// here; an absurd one is refused with a reason that names it. With
    /// `maxDurationSeconds`, packet counting stops as soon as the count says the video
    /// is longer than that, and the source is refused before anything is decoded.
    static func describe(_ input: InputFile, countPackets: Bool,
                         maxDurationSeconds: Double? = nil) throws(TranscodeError.Reason) -> MediaInfo {
        let format = input.context.pointee
        guard let videoIndex = videoStreamIndex(input), let stream = input.stream(videoIndex) else {
            throw .noVideoStream
        }
        let parameters = stream.pointee.codecpar.pointee
        let codecName = String(cString: avcodec_get_name(parameters.codec_id))
        if parameters.codec_id == AV_CODEC_ID_NONE || avcodec_find_decoder(parameters.codec_id) == nil {
            throw .unsupportedCodec(parameters.codec_id == AV_CODEC_ID_NONE ? "unknown" : codecName)
        }
        let width = Int(parameters.width), height = Int(parameters.height)
        if width > maxDimension || height > maxDimension {
            throw .dimensionsTooLarge(width: width, height: height, limit: maxDimension)
        }
        guard width > 0, height > 0 else { throw .notMedia("video stream has no dimensions") }

        var sar = stream.pointee.sample_aspect_ratio
        if sar.num == 0 || sar.den == 0 { sar = parameters.sample_aspect_ratio }
        let pixelAspect = try PixelAspect(sar)
        let timeBase = try TimeBase(stream.pointee.time_base).rational
        let frameRate = try FrameRate.choose(stream)
        let rotation: Int = {
            guard let matrix = cav_stream_display_matrix(stream) else { return 0 }
            // av_display_rotation_get is counter-clockwise; we store the clockwise turn to apply.
            return DisplayGeometry.normalizedRotation(-av_display_rotation_get(matrix))
        }()
        let geometry = DisplayGeometry(
            codedWidth: width, codedHeight: height,
            sampleAspect: (pixelAspect.num, pixelAspect.den), rotation: rotation)
        let longSide = max(geometry.displayWidth, geometry.displayHeight)
        guard longSide / max(geometry.shortSide, 1) <= SourceBounds.maxDisplayAspect else {
            throw .outOfRange("displayed aspect ratio \(Int(geometry.displayWidth.rounded())):\(Int(geometry.displayHeight.rounded()))")
        }

        let streamDuration = stream.pointee.duration > 0 && stream.pointee.duration != noPTS
            ? Double(stream.pointee.duration) * timeBase.doubleValue : nil
        // A duration libavformat guessed from the bit rate is not the container's word.
        let formatDuration = format.duration > 0 && format.duration != noPTS
            && format.duration_estimation_method != AVFMT_DURATION_FROM_BITRATE
            ? Double(format.duration) / Double(AV_TIME_BASE) : 0
        // Where timestamps may jump (MPEG-TS: a broadcast recording, or captures spliced
        // together), libavformat measures the length from the first and last timestamps,
        // and one jump of an hour makes a 4 s capture an hour long; the decode stage repairs
        // the jump. The frame budget below bounds such a file instead.
        let lengthSpansJumps = format.iformat.pointee.flags & AVFMT_TS_DISCONT != 0
            && format.duration_estimation_method == AVFMT_DURATION_FROM_PTS
        if let limit = maxDurationSeconds, !lengthSpansJumps {
            let declared = max(streamDuration ?? 0, formatDuration)
            if declared > limit { throw .tooLong(seconds: declared, limit: limit) }
        }
        var frameCount = Int(clamping: max(0, stream.pointee.nb_frames))
        var frameCountSource = "container"
        // A frame budget: more frames than the duration limit allows at this rate means too long.
        let frameLimit = maxDurationSeconds.map { Int(min(($0 * frameRate.perSecond).rounded(.up), 1e15)) + 1 }
        if let frameLimit, frameCount > frameLimit {
            throw .tooLong(seconds: Double(frameCount) / frameRate.perSecond, limit: maxDurationSeconds ?? 0)
        }
        if frameCount == 0 && countPackets {
            frameCount = try countVideoPackets(input, streamIndex: videoIndex, limit: frameLimit)
            frameCountSource = "packets"
            if let frameLimit, frameCount > frameLimit {
                throw .tooLong(seconds: Double(frameCount) / frameRate.perSecond, limit: maxDurationSeconds ?? 0)
            }
        }
        let baseRate = stream.pointee.r_frame_rate.isValid && SourceBounds.frameRate.contains(stream.pointee.r_frame_rate.doubleValue)
            ? stream.pointee.r_frame_rate.doubleValue : frameRate.perSecond
        var averageRate = frameRate.perSecond
        let duration = streamDuration ?? formatDuration
        if !stream.pointee.avg_frame_rate.isValid, frameCount > 0, duration > 0 {
            let measured = Double(frameCount) / duration
            if SourceBounds.frameRate.contains(measured) { averageRate = measured }
        }

        let descriptor = av_pix_fmt_desc_get(AVPixelFormat(rawValue: parameters.format))
        let profileName = avcodec_profile_name(parameters.codec_id, parameters.profile).map { String(cString: $0) }
        let video = MediaInfo.Video(
            streamIndex: Int(videoIndex),
            codec: codecName,
            profile: profileName,
            pixelFormat: descriptor.map { String(cString: $0.pointee.name) } ?? "unknown",
            bitDepth: descriptor.map { Int($0.pointee.comp.0.depth) } ?? 8,
            geometry: geometry,
            displayWidth: Int(geometry.displayWidth.rounded()),
            displayHeight: Int(geometry.displayHeight.rounded()),
            frameRate: averageRate,
            baseFrameRate: baseRate,
            isVariableFrameRate: baseRate > 0 && abs(averageRate - baseRate) / baseRate > 0.01,
            frameCount: frameCount,
            frameCountSource: frameCountSource,
            startSeconds: seconds(stream.pointee.start_time, timeBase),
            durationSeconds: streamDuration)

        var audio: MediaInfo.Audio? = nil
        if let audioIndex = audioStreamIndex(input), let audioStream = input.stream(audioIndex),
           let audioParameters = audioStream.pointee.codecpar {
            _ = try AudioFormat(sampleRate: audioParameters.pointee.sample_rate,
                                channels: audioParameters.pointee.ch_layout.nb_channels)
            _ = try TimeBase(audioStream.pointee.time_base)
            var layoutName = [CChar](repeating: 0, count: 64)
            _ = av_channel_layout_describe(&audioParameters.pointee.ch_layout, &layoutName, layoutName.count)
            audio = MediaInfo.Audio(
                streamIndex: Int(audioIndex),
                codec: String(cString: avcodec_get_name(audioParameters.pointee.codec_id)),
                sampleRate: Int(audioParameters.pointee.sample_rate),
                channels: Int(audioParameters.pointee.ch_layout.nb_channels),
                channelLayout: String(decoding: layoutName.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                startSeconds: seconds(audioStream.pointee.start_time, audioStream.pointee.time_base))
        }

        let size = avio_size(format.pb)
        return MediaInfo(
            path: input.path,
            format: String(cString: format.iformat.pointee.name),
            sizeBytes: size,
            durationSeconds: formatDuration,
            bitRate: format.bit_rate,
            video: video,
            audio: audio,
            tracks: tracks(input),
            streamCount: Int(format.nb_streams))
    }

    /// Every audio and subtitle stream: codec, language, title and dispositions. Tags are
    /// the file's words: bounded and made printable before anyone shows them.
    static func tracks(_ input: InputFile) -> [MediaInfo.Track] {
        input.streams.enumerated().compactMap { index, stream in
            guard let parameters = stream.pointee.codecpar else { return nil }
            let type = parameters.pointee.codec_type
            guard type == AVMEDIA_TYPE_AUDIO || type == AVMEDIA_TYPE_SUBTITLE else { return nil }
            let disposition = stream.pointee.disposition
            let properties = avcodec_descriptor_get(parameters.pointee.codec_id)?.pointee.props ?? 0
            let language = tag(stream, "language", limit: 16)?.lowercased()
            return MediaInfo.Track(
                streamIndex: index,
                kind: type == AVMEDIA_TYPE_AUDIO ? .audio : .subtitle,
                codec: String(cString: avcodec_get_name(parameters.pointee.codec_id)),
                language: language.flatMap { $0.allSatisfy { $0.isLetter || $0 == "-" } ? $0 : nil } ?? "und",
                title: tag(stream, "title", limit: 200),
                isDefault: disposition & AV_DISPOSITION_DEFAULT != 0,
                isForced: disposition & AV_DISPOSITION_FORCED != 0,
                isHearingImpaired: disposition & AV_DISPOSITION_HEARING_IMPAIRED != 0,
                isVisualImpaired: disposition & AV_DISPOSITION_VISUAL_IMPAIRED != 0,
                channels: type == AVMEDIA_TYPE_AUDIO ? Int(parameters.pointee.ch_layout.nb_channels) : nil,
                isText: type == AVMEDIA_TYPE_SUBTITLE ? properties & AV_CODEC_PROP_TEXT_SUB != 0 : nil)
        }
    }

    /// A metadata tag, trimmed to `limit` characters of printable text; nil when absent or empty.
    private static func tag(_ stream: UnsafeMutablePointer<AVStream>, _ key: String, limit: Int) -> String? {
        guard let entry = av_dict_get(stream.pointee.metadata, key, nil, 0), let value = entry.pointee.value else { return nil }
        let text = String(decoding: Data(bytes: value, count: strnlen(value, 4096)), as: UTF8.self)
            .unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }
        let trimmed = String(String.UnicodeScalarView(text.prefix(limit))).trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    private static func seconds(_ value: Int64, _ timeBase: AVRational) -> Double {
        value == noPTS ? 0 : Double(value) * timeBase.doubleValue
    }

    /// Counts the video stream's packets without decoding, stopping once past `limit`.
    /// A read error part-way ends the count (a cut-off file); the transcode then
    /// compares counts. The caller opens the input again to transcode.
    private static func countVideoPackets(_ input: InputFile, streamIndex: Int32, limit: Int?) throws(TranscodeError.Reason) -> Int {
        let packet = Packet()
        var count = 0
        while true {
            let more: Bool
            do { more = try input.read(into: packet) } catch {
                if error.code == AVError.outOfMemory { throw .outOfMemory }
                break
            }
            guard more else { break }
            if packet.streamIndex == streamIndex { count += 1 }
            if let limit, count > limit { break }
        }
        return count
    }
}
