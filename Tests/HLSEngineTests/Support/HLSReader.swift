import CAV
import Foundation

/// Reads an HLS output back with libavformat, the way a player would: the master
/// playlist, each variant playlist, and every segment (fMP4 with its init segment).
struct HLSOutput {
    struct Variant {
        var attributes: [String: String]
        var uri: String
        var playlist: MediaPlaylistFile
        var segments: [SegmentMedia]
        var width: Int { Int(attributes["RESOLUTION"]?.split(separator: "x").first ?? "") ?? 0 }
        var height: Int { Int(attributes["RESOLUTION"]?.split(separator: "x").last ?? "") ?? 0 }
        var videoFrames: Int { segments.reduce(0) { $0 + $1.video.count } }
    }

    var directory: String
    var masterText: String
    var variants: [Variant]

    init(directory: String) throws {
        self.directory = directory
        masterText = try String(contentsOfFile: directory + "/master.m3u8", encoding: .utf8)
        var variants: [Variant] = []
        var pending: [String: String]?
        for line in masterText.split(separator: "\n").map(String.init) {
            if line.hasPrefix("#EXT-X-STREAM-INF:") {
                pending = Self.attributes(String(line.dropFirst("#EXT-X-STREAM-INF:".count)))
            } else if let attributes = pending, !line.hasPrefix("#") {
                let playlist = try MediaPlaylistFile(path: directory + "/" + line)
                let folder = (directory + "/" + line as NSString).deletingLastPathComponent
                let segments = try playlist.segments.map { segment in
                    try SegmentMedia(path: folder + "/" + segment.uri,
                                     initialization: playlist.map.map { folder + "/" + $0 })
                }
                variants.append(Variant(attributes: attributes, uri: line, playlist: playlist, segments: segments))
                pending = nil
            }
        }
        self.variants = variants
    }

    /// Parses `KEY=VALUE,KEY="quoted, value"` attribute lists.
    static func attributes(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var key = "", value = "", inKey = true, quoted = false
        for character in text + "," {
            if inKey {
                if character == "=" { inKey = false } else { key.append(character) }
            } else if character == "\"" {
                quoted.toggle()
            } else if character == "," && !quoted {
                result[key] = value
                key = ""; value = ""; inKey = true
            } else {
                value.append(character)
            }
        }
        return result
    }
}

struct MediaPlaylistFile {
    struct Entry { var duration: Double; var uri: String }
    var text: String
    var version: Int?
    var targetDuration: Int?
    var map: String?
    var segments: [Entry] = []
    var isVOD: Bool
    var hasEndList: Bool

    init(path: String) throws {
        text = try String(contentsOfFile: path, encoding: .utf8)
        var duration: Double?
        var version: Int?, target: Int?, map: String?
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("#EXT-X-VERSION:") { version = Int(line.dropFirst(15)) }
            if line.hasPrefix("#EXT-X-TARGETDURATION:") { target = Int(line.dropFirst(22)) }
            if line.hasPrefix("#EXT-X-MAP:") { map = HLSOutput.attributes(String(line.dropFirst(11)))["URI"] }
            if line.hasPrefix("#EXTINF:") { duration = Double(line.dropFirst(8).split(separator: ",").first ?? "") }
            if !line.hasPrefix("#"), let value = duration {
                segments.append(Entry(duration: value, uri: line))
                duration = nil
            }
        }
        self.version = version
        self.targetDuration = target
        self.map = map
        isVOD = text.contains("#EXT-X-PLAYLIST-TYPE:VOD")
        hasEndList = text.contains("#EXT-X-ENDLIST")
    }
}

/// The packets of one segment, demuxed by libavformat.
struct SegmentMedia {
    struct VideoPacket {
        var pts: Double
        var isKeyframe: Bool
        /// NAL unit type of the first VCL NAL (5 = IDR slice).
        var firstSliceType: Int?
    }

    var bytes: Int
    var video: [VideoPacket] = []
    var audioPTS: [Double] = []
    var audioEnd: Double = 0
    var width = 0, height = 0
    var pixelFormat = ""
    var sampleAspect = (num: Int32(0), den: Int32(1))
    var hasRotation = false
    var avc1: String?
    var audioCodec: String?
    var audioProfile: Int32 = 0
    var audioSampleRate: Int32 = 0

    var firstVideoPTS: Double? { video.map(\.pts).min() }
    var videoEnd: Double { video.map(\.pts).max().map { $0 + frameDuration } ?? 0 }
    var frameDuration: Double = 0

    /// Opens `path`, prefixed by its initialization segment when it has one.
    init(path: String, initialization: String?) throws {
        var data = Data()
        if let initialization { data.append(try Data(contentsOf: URL(fileURLWithPath: initialization))) }
        let segment = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes = segment.count
        data.append(segment)
        let joined = FileManager.default.temporaryDirectory
            .appendingPathComponent("segment-\(UUID().uuidString)." + (path as NSString).pathExtension).path
        try data.write(to: URL(fileURLWithPath: joined))
        defer { try? FileManager.default.removeItem(atPath: joined) }
        try read(joined)
    }

    private mutating func read(_ path: String) throws {
        av_log_set_level(AV_LOG_ERROR)  // failures surface as thrown errors and expectations
        var context: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_open_input(&context, path, nil, nil) >= 0, let context else {
            throw ReadError(message: "cannot open \(path)")
        }
        defer { var pointer: UnsafeMutablePointer<AVFormatContext>? = context; avformat_close_input(&pointer) }
        guard avformat_find_stream_info(context, nil) >= 0 else { throw ReadError(message: "no stream info in \(path)") }
        var videoIndex: Int32 = -1, audioIndex: Int32 = -1
        for index in 0..<Int(context.pointee.nb_streams) {
            guard let stream = context.pointee.streams[index], let parameters = stream.pointee.codecpar else { continue }
            if parameters.pointee.codec_type == AVMEDIA_TYPE_VIDEO {
                videoIndex = Int32(index)
                width = Int(parameters.pointee.width)
                height = Int(parameters.pointee.height)
                pixelFormat = av_get_pix_fmt_name(AVPixelFormat(rawValue: parameters.pointee.format)).map { String(cString: $0) } ?? "?"
                sampleAspect = (parameters.pointee.sample_aspect_ratio.num, parameters.pointee.sample_aspect_ratio.den)
                hasRotation = cav_stream_display_matrix(stream) != nil
                let rate = stream.pointee.avg_frame_rate.num > 0 ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
                frameDuration = rate.num > 0 ? Double(rate.den) / Double(rate.num) : 0
                if let extradata = parameters.pointee.extradata, parameters.pointee.extradata_size > 6 {
                    let bytes = UnsafeBufferPointer(start: extradata, count: Int(parameters.pointee.extradata_size))
                    if bytes[0] == 1 { avc1 = "avc1." + bytes[1...3].map { String(format: "%02x", $0) }.joined() }
                }
            } else if parameters.pointee.codec_type == AVMEDIA_TYPE_AUDIO {
                audioIndex = Int32(index)
                audioCodec = String(cString: avcodec_get_name(parameters.pointee.codec_id))
                audioProfile = parameters.pointee.profile
                audioSampleRate = parameters.pointee.sample_rate
            }
        }
        guard let packet = av_packet_alloc() else { throw ReadError(message: "av_packet_alloc") }
        var owned: UnsafeMutablePointer<AVPacket>? = packet
        defer { av_packet_free(&owned) }
        while av_read_frame(context, packet) >= 0 {
            defer { av_packet_unref(packet) }
            guard let stream = context.pointee.streams[Int(packet.pointee.stream_index)] else { continue }
            let timeBase = stream.pointee.time_base
            let pts = Double(packet.pointee.pts) * Double(timeBase.num) / Double(timeBase.den)
            if packet.pointee.stream_index == videoIndex {
                let payload = UnsafeBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size))
                video.append(VideoPacket(pts: pts, isKeyframe: packet.pointee.flags & AV_PKT_FLAG_KEY != 0,
                                         firstSliceType: Self.firstSliceType(payload)))
                if avc1 == nil, let sps = Self.annexBSPS(payload) { avc1 = sps }
            } else if packet.pointee.stream_index == audioIndex {
                audioPTS.append(pts)
                let duration = Double(packet.pointee.duration) * Double(timeBase.num) / Double(timeBase.den)
                audioEnd = max(audioEnd, pts + duration)
            }
        }
    }

    /// The type of the first VCL NAL unit (1...5), in Annex B or length-prefixed form.
    static func firstSliceType(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count > 4 else { return nil }
        let annexB = bytes[0] == 0 && bytes[1] == 0 && (bytes[2] == 1 || (bytes[2] == 0 && bytes[3] == 1))
        if annexB {
            var index = 0
            while index + 3 < bytes.count {
                if bytes[index] == 0, bytes[index + 1] == 0, bytes[index + 2] == 1 {
                    let type = Int(bytes[index + 3] & 0x1f)
                    if (1...5).contains(type) { return type }
                    index += 3
                } else { index += 1 }
            }
            return nil
        }
        var offset = 0
        while offset + 4 < bytes.count {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let type = Int(bytes[offset + 4] & 0x1f)
            if (1...5).contains(type) { return type }
            offset += 4 + length
        }
        return nil
    }

    static func annexBSPS(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var index = 0
        while index + 7 < bytes.count {
            if bytes[index] == 0, bytes[index + 1] == 0, bytes[index + 2] == 1, bytes[index + 3] & 0x1f == 7 {
                return "avc1." + bytes[(index + 4)...(index + 6)].map { String(format: "%02x", $0) }.joined()
            }
            index += 1
        }
        return nil
    }

    struct ReadError: Error { var message: String }
}
