import Foundation

/// `manifest.mpd`: a static DASH manifest (ISO/IEC 23009-1, live profile) over the same
/// CMAF segments as the HLS ladder, for players that speak DASH and not HLS (ExoPlayer,
/// dash.js, Shaka). One AdaptationSet for the video rungs and one for the audio, each
/// Representation with a SegmentTimeline of its fragments' real `tfdt` and durations.
///
/// A pure value: `TranscodePipeline` fills it from what the muxers read back.
public struct DASHManifest: Sendable, Equatable {
    public static let fileName = "manifest.mpd"

    public struct Representation: Sendable, Equatable {
        /// Also the folder of its segments: "720p", "audio".
        public var id: String
        public var bandwidth: Int
        public var codecs: String
        public var timescale: Int
        public var timeline: [FragmentTiming]
        /// Video only.
        public var width: Int?
        public var height: Int?
        /// "30" or "30000/1001".
        public var frameRate: String?
        /// Audio only.
        public var sampleRate: Int?
        public var channels: Int?
        /// Audio only: the track's language ("und" when unknown) and its label.
        public var language: String = "und"
        public var label: String?
        /// Audio only: an audio description (`AudioTrack.describesVideo`).
        public var describesVideo = false

        public init(id: String, bandwidth: Int, codecs: String, timescale: Int, timeline: [FragmentTiming],
                    width: Int? = nil, height: Int? = nil, frameRate: String? = nil,
                    sampleRate: Int? = nil, channels: Int? = nil) {
            self.id = id
            self.bandwidth = bandwidth
            self.codecs = codecs
            self.timescale = timescale
            self.timeline = timeline
            self.width = width
            self.height = height
            self.frameRate = frameRate
            self.sampleRate = sampleRate
            self.channels = channels
        }
    }

    public var video: [Representation]
    public var audio: Representation?
    /// The source's other audio tracks: an AdaptationSet each, after the default one's.
    public var alternateAudio: [Representation] = []
    /// Seconds: the longest video rendition.
    public var duration: Double
    public var segmentDuration: Double
    /// The segment name pattern, as `SegmentedMuxer` names them (`segment_%05d.m4s`).
    public var segmentExtension: String = "m4s"
    /// Text tracks: one AdaptationSet each, the whole WebVTT file as its one Representation.
    public var subtitles: [Subtitles] = []

    public struct Subtitles: Sendable, Equatable {
        /// Relative to the manifest: `captions/eng.vtt`.
        public var uri: String
        public var language: String
        public var name: String
        public var isForced: Bool
        /// Captions for the deaf and hard of hearing: Role "caption", where others are "subtitle".
        public var isHearingImpaired = false
    }

    public init(video: [Representation], audio: Representation?, duration: Double, segmentDuration: Double) {
        self.video = video
        self.audio = audio
        self.duration = duration
        self.segmentDuration = segmentDuration
    }

    public func render() -> String {
        var lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            #"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" "#
                + #"mediaPresentationDuration="\#(Self.duration(duration))" minBufferTime="\#(Self.duration(segmentDuration))">"#,
            #"  <Period id="0" start="PT0S">"#,
        ]
        let maxWidth = video.compactMap(\.width).max() ?? 0, maxHeight = video.compactMap(\.height).max() ?? 0
        lines.append(#"    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" "#
                     + #"startWithSAP="1" maxWidth="\#(maxWidth)" maxHeight="\#(maxHeight)">"#)
        for representation in video.sorted(by: { $0.bandwidth < $1.bandwidth }) {
            var attributes = #"id="\#(representation.id)" bandwidth="\#(representation.bandwidth)" codecs="\#(representation.codecs)""#
            if let width = representation.width, let height = representation.height {
                attributes += #" width="\#(width)" height="\#(height)" sar="1:1""#
            }
            if let frameRate = representation.frameRate { attributes += #" frameRate="\#(frameRate)""# }
            lines.append("      <Representation \(attributes)>")
            lines += template(representation, indent: "        ")
            lines.append("      </Representation>")
        }
        lines.append("    </AdaptationSet>")
        for (index, audio) in ([audio].compactMap { $0 } + alternateAudio).enumerated() {
            lines.append(#"    <AdaptationSet id="\#(index + 1)" contentType="audio" mimeType="audio/mp4" segmentAlignment="true" "#
                         + #"startWithSAP="1" lang="\#(Self.escaped(audio.language))">"#)
            if let label = audio.label { lines.append(#"      <Label>\#(Self.escaped(label))</Label>"#) }
            // DASH-IF: the default track's Role is "main", an audio description's "description"
            // (with the accessibility scheme's "for the visually impaired"), any other's "alternate".
            let role = index == 0 ? "main" : audio.describesVideo ? "description" : "alternate"
            lines.append(#"      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="\#(role)"/>"#)
            if audio.describesVideo {
                lines.append(#"      <Accessibility schemeIdUri="urn:tva:metadata:cs:AudioPurposeCS:2007" value="1"/>"#)
            }
            var attributes = #"id="\#(audio.id)" bandwidth="\#(audio.bandwidth)" codecs="\#(audio.codecs)""#
            if let sampleRate = audio.sampleRate { attributes += #" audioSamplingRate="\#(sampleRate)""# }
            lines.append("      <Representation \(attributes)>")
            if let channels = audio.channels {
                lines.append(#"        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="\#(channels)"/>"#)
            }
            lines += template(audio, indent: "        ")
            lines.append("      </Representation>")
            lines.append("    </AdaptationSet>")
        }
        lines += Self.textAdaptationSets(subtitles)
        lines += ["  </Period>", "</MPD>"]
        return lines.joined(separator: "\n") + "\n"
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;")
    }

    /// One AdaptationSet per text track, ids from 100 (0 is the video's, 1 to 8 the audio
    /// tracks'), so a track added later never has to renumber the others.
    static func textAdaptationSets(_ subtitles: [Subtitles]) -> [String] {
        var lines: [String] = []
        for (index, track) in subtitles.enumerated() {
            lines.append(#"    <AdaptationSet id="\#(index + 100)" contentType="text" mimeType="text/vtt" lang="\#(Self.escaped(track.language))">"#)
            lines.append(#"      <Label>\#(Self.escaped(track.name))</Label>"#)
            // DASH-IF: a forced track's Role is "forced-subtitle", captions for the deaf and hard
            // of hearing "caption", any other "subtitle".
            let role = track.isForced ? "forced-subtitle" : track.isHearingImpaired ? "caption" : "subtitle"
            lines.append(#"      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="\#(role)"/>"#)
            lines.append(#"      <Representation id="text-\#(index)" bandwidth="256">"#)
            lines.append("        <BaseURL>\(Self.escaped(track.uri))</BaseURL>")
            lines.append("      </Representation>")
            lines.append("    </AdaptationSet>")
        }
        return lines
    }

    /// The SegmentTemplate: numbers from 0, as the files are named, and the timeline.
    private func template(_ representation: Representation, indent: String) -> [String] {
        var lines = [indent + #"<SegmentTemplate timescale="\#(representation.timescale)" startNumber="0" "#
                     + #"initialization="\#(representation.id)/init.mp4" media="\#(representation.id)/segment_$Number%05d$.\#(segmentExtension)">"#]
        lines.append(indent + "  <SegmentTimeline>")
        lines += Self.timelineEntries(representation.timeline).map { indent + "    " + $0 }
        lines.append(indent + "  </SegmentTimeline>")
        lines.append(indent + "</SegmentTemplate>")
        return lines
    }

    /// `<S>` elements: `t` where the timeline starts or jumps, `r` for a run of equal,
    /// contiguous durations.
    static func timelineEntries(_ timeline: [FragmentTiming]) -> [String] {
        var entries: [String] = []
        var index = 0
        var expected: UInt64?
        while index < timeline.count {
            let first = timeline[index]
            var repeats = 0
            while index + repeats + 1 < timeline.count {
                let next = timeline[index + repeats + 1]
                let previousEnd = first.decodeTime &+ UInt64(repeats + 1) &* first.duration
                guard next.duration == first.duration, next.decodeTime == previousEnd else { break }
                repeats += 1
            }
            var element = "<S"
            if expected != first.decodeTime { element += #" t="\#(first.decodeTime)""# }
            element += #" d="\#(first.duration)""#
            if repeats > 0 { element += #" r="\#(repeats)""# }
            entries.append(element + "/>")
            expected = first.decodeTime &+ UInt64(repeats + 1) &* first.duration  // our own files: wrap, never trap
            index += repeats + 1
        }
        return entries
    }

    static func duration(_ seconds: Double) -> String {
        String(format: "PT%.3fS", seconds.isFinite ? max(0, seconds) : 0)
    }
}
