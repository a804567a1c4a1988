/// Turns the renditions' measured segments into variant playlists and, last, the
/// master playlist.
struct PlaylistWriter {
    struct Variant {
        var rendition: Rendition
        var segments: [SegmentedMuxer.Segment]
        var initializationBytes: Int64
        var codecs: String
        var frames: Int
    }

    let output: OutputDirectory
    let format: SegmentFormat
    let hasAudio: Bool

    func write(_ variants: [Variant]) throws -> (duration: Double, renditions: [TranscodeResult.RenditionResult]) {
        var results: [TranscodeResult.RenditionResult] = []
        var masterVariants: [MasterPlaylist.Variant] = []
        for variant in variants {
            let durations = Self.segmentDurations(variant.segments)
            let playlist = MediaPlaylist(
                initializationURI: format.initializationName,
                segments: zip(variant.segments, durations).map { .init(uri: $0.fileName, duration: $1) })
            let playlistPath = "\(variant.rendition.name)/index.m3u8"
            try output.writeAtomically(playlist.render(), to: playlistPath)

            let duration = durations.reduce(0, +)
            let segmentBytes = variant.segments.reduce(Int64(0)) { $0 + $1.bytes }
            // Peak: the highest segment bit rate (RFC 8216 §4.3.4.2); a last segment under
            // one second is left out, as its rate says little about sustained delivery.
            let rates = zip(variant.segments, durations).filter { $1 >= 1 || variant.segments.count == 1 }
                .map { Double($0.bytes * 8) / max($1, 0.001) }
            let average = Int((Double(segmentBytes * 8) / max(duration, 0.001)).rounded(.up))
            let peak = max(Int((rates.max() ?? 0).rounded(.up)), average)
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
        let version = MediaPlaylist(initializationURI: format.initializationName, segments: []).version
        try output.writeAtomically(MasterPlaylist(variants: masterVariants, version: version).render(), to: "master.m3u8")
        return (results.map(\.durationSeconds).max() ?? 0, results)
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
