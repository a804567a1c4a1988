import Foundation
import HLSEngine

/// A row of the videos table: the stable metadata, written only at state changes.
public struct VideoRecord: Sendable, Codable, Equatable {
    public var id: UUID
    public var title: String
    public var originalFilename: String
    public var size: Int64
    public var contentType: String
    public var lastModified: Int64
    public var status: VideoLifecycle.Status
    public var uploadID: String?
    public var sourceKey: String
    public var hlsPrefix: String
    public var partCount: Int
    public var durationSeconds: Double?
    public var width: Int?
    public var height: Int?
    /// The renditions written (name, size, bandwidth); JSON in the table.
    public var renditions: [RenditionSummary]?
    public var error: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// Who may change the video; nil for videos from before access control (keys only).
    public var owner: VideoOwner? = nil
    public var visibility: Visibility = .unlisted
    /// Whom the upload counts against for quotas (`user:…`, `ip:…`); nil for a key.
    public var uploader: String? = nil
    /// What the finished transcode stored beside the ladder; nil before READY.
    public var outputs: VideoOutputs? = nil
}

/// The objects a READY video has besides its ladder, stored as JSON in the row
/// (`outputs`, migration 4), so the API names only what exists.
public struct VideoOutputs: Sendable, Codable, Equatable {
    /// The scrubbing storyboard's WebVTT index, relative to the HLS prefix.
    public var storyboard: String?
    /// `download.mp4`: its name (relative to the HLS prefix), rung and size.
    public var download: TranscodeResult.Download?
    /// `manifest.mpd`, relative to the HLS prefix, for a DASH ladder.
    public var dash: String?
    /// The caption tracks (their files relative to the HLS prefix).
    public var captions: [TranscodeResult.Caption]?
    /// Seconds the muxers added to every timestamp: where a caption track added later puts
    /// its cues (`LadderCaptions`). Absent for videos transcoded before it was recorded.
    public var timelineShift: Double?
    /// The audio renditions (one per audio stream of the source), the default first; nil
    /// when the audio is muxed into the variants.
    public var audioTracks: [AudioTrack]?
    /// What loudness normalisation did to each audio track (by its folder).
    public var loudness: [Loudness.Track]?

    public init(storyboard: String? = nil, download: TranscodeResult.Download? = nil, dash: String? = nil,
                captions: [TranscodeResult.Caption]? = nil, timelineShift: Double? = nil, audioTracks: [AudioTrack]? = nil,
                loudness: [Loudness.Track]? = nil) {
        self.audioTracks = audioTracks
        self.loudness = loudness
        self.storyboard = storyboard
        self.download = download
        self.dash = dash
        self.captions = captions
        self.timelineShift = timelineShift
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    init?(json: String?) {
        guard let json, let decoded = try? JSONDecoder().decode(VideoOutputs.self, from: Data(json.utf8)) else { return nil }
        self = decoded
    }
}
