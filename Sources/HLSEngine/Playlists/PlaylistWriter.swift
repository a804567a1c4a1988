/// Turns the renditions' measured segments into variant playlists and, last, the
/// master playlist.
struct PlaylistWriter {
    struct Variant {
        var rendition: Rendition
        var segments: [SegmentedMuxer.Segment]
        var initializationBytes: Int64
        var codecs: String
        var frames: Int
        /// For the DASH manifest: the track's timescale, and the nominal rate ("30000/1001").
        var timescale: Int = 0
        var nominalFrameRate: String = ""
    }

    /// A separate audio rendition (a DASH ladder, or one of several audio tracks).
    struct Audio {
        var segments: [SegmentedMuxer.Segment]
        var channels: Int
        var sampleRate: Int
        var timescale: Int
        /// Its folder ("audio", "audio-2") and how players list it.
        var track: AudioTrack = .main
    }

    let output: OutputDirectory
    let format: SegmentFormat
    let hasAudio: Bool

    /// A rendition's bit rates from its segments: the peak and the average over the whole.
    ///
    /// The peak is the highest rate of any run of contiguous segments lasting 0.5 to 1.5
    /// times the target duration (RFC 8216 §4.3.4.2), or of any one segment of a second or
    /// more. A short last segment is thus measured with the one before it, not alone (its
    /// IDR would make a rate that says little about sustained delivery). Before, a last
    /// segment of 1.0 s, which EXTINF rounds to that but the timestamps make a hair shorter,
    /// was left out, and BANDWIDTH was 0.75x what it carried.
    static func rates(_ segments: [SegmentedMuxer.Segment], durations: [Double]) -> (peak: Int, average: Int) {
        let duration = durations.reduce(0, +)
        let segmentBytes = segments.reduce(Int64(0)) { $0 + $1.bytes }
        let average = Int((Double(segmentBytes * 8) / max(duration, 0.001)).rounded(.up))
        let bytes = segments.map { Double($0.bytes * 8) }
        let target = Double(MediaPlaylist(initializationURI: nil, segments: durations.map { .init(uri: "", duration: $0) }).targetDuration)
        let slack = 1e-6
        var peak = 0.0
        for first in durations.indices {
            var seconds = 0.0, bits = 0.0
            for last in first..<durations.count {
                seconds += durations[last]
                bits += bytes[last]
                if seconds > 1.5 * target + slack { break }
                let counts = seconds >= 0.5 * target - slack || (first == last && seconds >= 1 - slack)
                if counts { peak = max(peak, bits / max(seconds, 0.001)) }
            }
        }
        if segments.count == 1 { peak = max(peak, bytes[0] / max(durations.first ?? 0, 0.001)) }
        return (max(Int(peak.rounded(.up)), average), average)
    }

    /// A rendition's VOD playlist.
    private func writeMediaPlaylist(_ segments: [SegmentedMuxer.Segment], durations: [Double], to path: String) throws {
        let playlist = MediaPlaylist(initializationURI: format.initializationName,
                                     segments: zip(segments, durations).map { .init(uri: $0.fileName, duration: $1) })
        try output.writeAtomically(playlist.render(), to: path)
    }

    /// - Parameters:
    ///   - audio: the separate audio renditions, the default track first (none when the
    ///     audio is muxed into the variants).
    ///   - dash: also write `manifest.mpd` (the segments' timings were read back).
    func write(_ variants: [Variant], audio: [Audio] = [], dash: Bool = false, segmentDuration: Double = 2,
               subtitles: [MasterPlaylist.Subtitles] = []) throws
        -> (duration: Double, renditions: [TranscodeResult.RenditionResult], dash: String?) {
        var results: [TranscodeResult.RenditionResult] = []
        var masterVariants: [MasterPlaylist.Variant] = []
        // A variant's BANDWIDTH covers whichever of its audio renditions plays: the highest.
        var audioRates = (peak: 0, average: 0)
        var masterAudio: [MasterPlaylist.Audio] = []
        var audioDuration = 0.0
        for track in audio {
            let durations = Self.segmentDurations(track.segments)
            audioDuration = max(audioDuration, durations.reduce(0, +))
            let playlistPath = "\(track.track.folder)/index.m3u8"
            try writeMediaPlaylist(track.segments, durations: durations, to: playlistPath)
            let rates = Self.rates(track.segments, durations: durations)
            audioRates = (max(audioRates.peak, rates.peak), max(audioRates.average, rates.average))
            masterAudio.append(MasterPlaylist.Audio(uri: playlistPath, channels: track.channels, language: track.track.language,
                                                    name: track.track.name, describesVideo: track.track.describesVideo == true))
        }
        for variant in variants {
            let durations = Self.segmentDurations(variant.segments)
            let playlistPath = "\(variant.rendition.name)/index.m3u8"
            try writeMediaPlaylist(variant.segments, durations: durations, to: playlistPath)

            let duration = durations.reduce(0, +)
            let segmentBytes = variant.segments.reduce(Int64(0)) { $0 + $1.bytes }
            // A variant's BANDWIDTH covers the audio rendition it names (RFC 8216 §4.3.4.2).
            let videoRates = Self.rates(variant.segments, durations: durations)
            let peak = videoRates.peak + audioRates.peak
            let average = videoRates.average + audioRates.average
            let codecs = hasAudio ? "\(variant.codecs),\(CodecString.aacLC)" : variant.codecs
            // Apple's HLS authoring spec: FRAME-RATE is the variant's maximum frame rate.
            // Measured per segment, so one jittery frame interval cannot inflate it.
            let frameRate = zip(variant.segments, durations).map { $1 > 0 ? Double($0.videoFrames) / $1 : 0 }.max() ?? 0
            masterVariants.append(.init(uri: playlistPath, bandwidth: peak, averageBandwidth: average, codecs: codecs,
                                        width: variant.rendition.width, height: variant.rendition.height,
                                        frameRate: frameRate))
            results.append(.init(rendition: variant.rendition, playlist: playlistPath, codecs: codecs,
                                 peakBandwidth: peak, averageBandwidth: average, frameCount: variant.frames,
                                 segmentCount: variant.segments.count,
                                 totalBytes: segmentBytes + variant.initializationBytes,
                                 durationSeconds: duration, frameRate: frameRate))
        }
        // The video's, unless audio plays on past it beyond the cutter's tail (a still
        // picture with long audio: its renditions cut that audio alone).
        let videoDuration = results.map(\.durationSeconds).max() ?? 0
        let duration = audioDuration > videoDuration + SegmentCutter<Packet>.defaultMaxAudioTail ? audioDuration : videoDuration
        var manifestName: String?
        if dash, var manifest = Self.dashManifest(variants, audio: audio, duration: duration,
                                                  segmentDuration: segmentDuration) {
            // The whole WebVTT file beside each caption rendition's folder (`captions/eng.vtt`).
            manifest.subtitles = subtitles.map {
                .init(uri: $0.uri.split(separator: "/").dropLast().joined(separator: "/") + ".vtt", language: $0.language, name: $0.name,
                      isForced: $0.isForced, isHearingImpaired: $0.isHearingImpaired)
            }
            // Before the master: its presence still means every file of the ladder is there.
            try output.writeAtomically(manifest.render(), to: DASHManifest.fileName)
            manifestName = DASHManifest.fileName
        }
        let version = MediaPlaylist(initializationURI: format.initializationName, segments: []).version
        var master = MasterPlaylist(variants: masterVariants, version: version, audio: masterAudio.first)
        master.alternateAudio = Array(masterAudio.dropFirst())
        master.subtitles = subtitles
        try output.writeAtomically(master.render(), to: "master.m3u8")
        return (duration, results, manifestName)
    }

    /// The DASH manifest, when every fragment's timing was read back; nil otherwise.
    private static func dashManifest(_ variants: [Variant], audio: [Audio], duration: Double,
                                     segmentDuration: Double) -> DASHManifest? {
        func timeline(_ segments: [SegmentedMuxer.Segment]) -> [FragmentTiming]? {
            let timings = segments.compactMap(\.timing)
            return timings.count == segments.count && !timings.isEmpty ? timings : nil
        }
        var video: [DASHManifest.Representation] = []
        for variant in variants {
            guard let timings = timeline(variant.segments), variant.timescale > 0 else { return nil }
            let durations = segmentDurations(variant.segments)
            video.append(.init(id: variant.rendition.name, bandwidth: rates(variant.segments, durations: durations).peak,
                               codecs: variant.codecs, timescale: variant.timescale, timeline: timings,
                               width: variant.rendition.width, height: variant.rendition.height,
                               frameRate: variant.nominalFrameRate.isEmpty ? nil : variant.nominalFrameRate))
        }
        var audioRepresentations: [DASHManifest.Representation] = []
        for track in audio {
            guard let timings = timeline(track.segments), track.timescale > 0 else { return nil }
            var representation = DASHManifest.Representation(
                id: track.track.folder, bandwidth: rates(track.segments, durations: segmentDurations(track.segments)).peak,
                codecs: CodecString.aacLC, timescale: track.timescale, timeline: timings,
                sampleRate: track.sampleRate, channels: track.channels)
            representation.language = track.track.language ?? "und"
            representation.label = audio.count > 1 ? track.track.name : nil
            representation.describesVideo = track.track.describesVideo == true
            audioRepresentations.append(representation)
        }
        guard !video.isEmpty else { return nil }
        var manifest = DASHManifest(video: video, audio: audioRepresentations.first, duration: duration, segmentDuration: segmentDuration)
        manifest.alternateAudio = Array(audioRepresentations.dropFirst())
        return manifest
    }

    /// Each segment lasts until the next one starts; the last until its last frame ends.
    static func segmentDurations(_ segments: [SegmentedMuxer.Segment]) -> [Double] {
        segments.indices.map { index in
            guard index + 1 < segments.count, let next = segments[index + 1].start, let start = segments[index].start
            else { return segments[index].duration }
            return next - start
        }
    }
}
