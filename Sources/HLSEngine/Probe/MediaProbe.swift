import CAV
import Foundation

/// Reads what a media file holds without decoding it: streams, codecs, the displayed
/// size, frame rate and the exact video frame count.
public enum MediaProbe {
    /// No side of a video may exceed this many pixels.
    public static let maxDimension = 8192

    /// Probes the file at `path`.
    /// - Throws: `TranscodeError` naming the input: empty, not media, no video stream,
    ///   an unsupported codec or dimensions over ``maxDimension``.
    public static func probe(_ path: String) throws(TranscodeError) -> MediaInfo {
        do {
            let input = try open(path)
            return try describe(input, countPackets: true)
        } catch let reason {
            throw TranscodeError(input: path, reason: reason)
        }
    }

    /// Opens `path`, classifying failures as the user would describe them.
    static func open(_ path: String, cancellation: CancellationFlag = CancellationFlag()) throws(TranscodeError.Reason) -> InputFile {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw .io("cannot read the file: \(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")")
        }
        if (attributes[.type] as? FileAttributeType) == .typeDirectory { throw .io("is a directory, not a file") }
        if ((attributes[.size] as? NSNumber)?.int64Value ?? 0) == 0 { throw .empty }
        let maxPixels = Int64(maxDimension) * Int64(maxDimension)
        do {
            return try InputFile(path: path, maxPixels: maxPixels, cancellation: cancellation)
        } catch {
            if cancellation.isCancelled { throw .cancelled }
            throw .notMedia(error.message)
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
    static func describe(_ input: InputFile, countPackets: Bool) throws(TranscodeError.Reason) -> MediaInfo {
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
        if !sar.isValid { sar = parameters.sample_aspect_ratio }
        let rotation: Int = {
            guard let matrix = cav_stream_display_matrix(stream) else { return 0 }
            // av_display_rotation_get is counter-clockwise; we store the clockwise turn to apply.
            return DisplayGeometry.normalizedRotation(-av_display_rotation_get(matrix))
        }()
        let geometry = DisplayGeometry(
            codedWidth: width, codedHeight: height,
            sampleAspect: sar.isValid ? (Int(sar.num), Int(sar.den)) : (1, 1), rotation: rotation)

        let timeBase = stream.pointee.time_base
        let streamDuration = stream.pointee.duration != noPTS ? Double(stream.pointee.duration) * timeBase.doubleValue : nil
        let formatDuration = format.duration != noPTS ? Double(format.duration) / Double(AV_TIME_BASE) : 0
        var frameCount = Int(stream.pointee.nb_frames)
        var frameCountSource = "container"
        if frameCount <= 0 && countPackets {
            frameCount = (try? countVideoPackets(input, streamIndex: videoIndex)) ?? 0
            frameCountSource = "packets"
        }
        let baseRate = stream.pointee.r_frame_rate.doubleValue
        var averageRate = stream.pointee.avg_frame_rate.doubleValue
        let duration = streamDuration ?? formatDuration
        if averageRate <= 0, frameCount > 0, duration > 0 { averageRate = Double(frameCount) / duration }
        if averageRate <= 0 { averageRate = baseRate }

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
            streamCount: Int(format.nb_streams))
    }

    private static func seconds(_ value: Int64, _ timeBase: AVRational) -> Double {
        value == noPTS ? 0 : Double(value) * timeBase.doubleValue
    }

    /// Counts the video stream's packets without decoding, then rewinds.
    private static func countVideoPackets(_ input: InputFile, streamIndex: Int32) throws(AVError) -> Int {
        let packet = Packet()
        var count = 0
        while try input.read(into: packet) {
            if packet.streamIndex == streamIndex { count += 1 }
        }
        try? input.rewind()
        return count
    }
}
