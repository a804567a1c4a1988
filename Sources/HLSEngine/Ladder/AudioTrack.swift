import Foundation

/// One audio track of the ladder: the source stream it comes from, the folder of its
/// rendition, and how a player lists it. Every audio stream of the source becomes one
/// (a dub, a commentary, an audio description), each AAC-LC stereo; the default track is
/// the one the source marks default, else the first.
public struct AudioTrack: Sendable, Codable, Equatable {
    /// A ladder has at most this many: the bound on the decodes and encoders a source
    /// can make a run open.
    public static let maxTracks = 8

    public var streamIndex: Int
    /// "audio" for the default track (the folder a one-track ladder has always used), then
    /// "audio-2", "audio-3" in the source's order.
    public var folder: String
    /// ISO 639 from the stream's `language` tag; nil when it has none ("und").
    public var language: String?
    /// The stream's title, else its language's English name; unique in the ladder.
    public var name: String
    public var isDefault: Bool
    /// An audio description for the blind and partially sighted (the source's "visual
    /// impaired" disposition): players that are asked for one pick it. Nil otherwise, and in
    /// manifests written before it.
    public var describesVideo: Bool?

    /// The playlist of its rendition, relative to the ladder.
    public var playlist: String { "\(folder)/index.m3u8" }

    /// A one-track ladder's track, as before any track was named.
    static let main = AudioTrack(streamIndex: -1, folder: "audio", language: nil, name: "Audio", isDefault: true)

    /// The tracks of a source: `info.audio` (the stream libavformat picks, which favours the
    /// default disposition) first, then every other audio stream with channels, in file
    /// order, up to `maxTracks`. Those past it are returned as `left` for the log.
    static func plan(_ info: MediaInfo) -> (tracks: [AudioTrack], left: [MediaInfo.Track]) {
        guard let main = info.audio else { return ([], []) }
        let streams = info.tracks.filter { $0.kind == .audio && ($0.channels ?? 0) > 0 }
        let first = streams.first { $0.streamIndex == main.streamIndex }
        let ordered = [first].compactMap { $0 } + streams.filter { $0.streamIndex != main.streamIndex }
        var names: Set<String> = []
        var tracks: [AudioTrack] = []
        for (position, stream) in ordered.prefix(maxTracks).enumerated() {
            let language = stream.language == "und" || stream.language.isEmpty ? nil : stream.language
            var name = Self.name(title: stream.title, language: language, describesVideo: stream.isVisualImpaired)
            if names.contains(name) { name += " (\(position + 1))" }
            names.insert(name)
            tracks.append(AudioTrack(streamIndex: stream.streamIndex, folder: position == 0 ? "audio" : "audio-\(position + 1)",
                                     language: language, name: name, isDefault: position == 0,
                                     describesVideo: stream.isVisualImpaired ? true : nil))
        }
        if tracks.isEmpty { tracks = [AudioTrack(streamIndex: main.streamIndex, folder: "audio", language: nil, name: "Audio", isDefault: true)] }
        return (tracks, Array(ordered.dropFirst(maxTracks)))
    }

    /// "Director's commentary" (a title), "French" (a language), or "Audio"; an untitled
    /// audio description says so: "English (audio description)".
    static func name(title: String?, language: String?, describesVideo: Bool = false) -> String {
        let title = (title ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if !title.isEmpty { return String(title.prefix(100)) }
        let named = language.flatMap { Locale(identifier: "en_US").localizedString(forLanguageCode: $0) } ?? language ?? "Audio"
        return describesVideo ? "\(named) (audio description)" : named
    }
}
