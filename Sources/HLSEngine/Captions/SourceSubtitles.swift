import CAV
import Foundation

/// The source's own text subtitle streams (mov_text, subrip, ass/ssa, webvtt) as caption
/// tracks, published like sidecar captions. libavcodec's text decoders give each event
/// as an ASS dialogue line; its text is kept and its styling dropped. Bitmap subtitles
/// (PGS, DVB) have no text to give and are left out (`MediaInfo.Track.isText` says which).
enum SourceSubtitles {
    /// A track's text past this is left out: the same bound as a sidecar file's size.
    static let maxTrackCharacters = CaptionFile.maxBytes

    /// Reads every text subtitle stream of `input` into cues, demuxing it to its end (no
    /// video or audio is decoded): pass an input opened for this alone. `notes` says what
    /// was left out and why (bitmap streams, styling, text past the bounds), for the log.
    static func read(_ input: InputFile, tracks: [MediaInfo.Track], cancellation: CancellationFlag) throws
        -> (captions: [SidecarCaptions], notes: [String]) {
        var notes: [String] = []
        for track in tracks where track.kind == .subtitle && track.isText == false {
            notes.append("subtitle stream \(track.streamIndex) (\(track.codec)) is a bitmap, not text: skipped")
        }
        let wanted = tracks.filter { $0.kind == .subtitle && $0.isText == true }
        guard !wanted.isEmpty else { return ([], notes) }
        var decoders: [Int32: Decoder] = [:]
        for track in wanted {
            guard let stream = input.stream(Int32(track.streamIndex)),
                  let decoder = try? Decoder(stream: stream, threads: 1, maxPixels: SourceBounds.maxPixels) else {
                notes.append("subtitle stream \(track.streamIndex) (\(track.codec)) cannot be decoded: skipped")
                continue
            }
            decoders[Int32(track.streamIndex)] = decoder
            if ["ass", "ssa"].contains(track.codec) {
                notes.append("subtitle stream \(track.streamIndex) (\(track.codec)): styling dropped, text kept")
            }
        }
        guard !decoders.isEmpty else { return ([], notes) }
        let start = input.context.pointee.start_time
        let origin = start == noPTS ? 0 : Double(start) / Double(AV_TIME_BASE)
        var cues: [Int32: [CaptionFile.Cue]] = [:]
        var characters: [Int32: Int] = [:]
        var cutCues: [Int32: Int] = [:]
        var droppedCues: [Int32: Int] = [:]
        let packet = Packet()
        while try input.read(into: packet) {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            guard let decoder = decoders[packet.streamIndex], packet.pts != noPTS else { continue }
            guard cues[packet.streamIndex, default: []].count < CaptionFile.maxCues else {
                droppedCues[packet.streamIndex, default: 0] += 1
                continue
            }
            var subtitle = AVSubtitle()
            var got: Int32 = 0
            guard avcodec_decode_subtitle2(decoder.context, &subtitle, &got, packet.pointer) >= 0, got != 0 else { continue }
            defer { avsubtitle_free(&subtitle) }
            let timeBase = decoder.timeBase.doubleValue
            let base = Double(packet.pts) * timeBase - origin
            let begin = base + Double(subtitle.start_display_time) / 1000
            let end = subtitle.end_display_time > 0 && subtitle.end_display_time != UInt32.max
                ? base + Double(subtitle.end_display_time) / 1000
                : base + Double(packet.pointer.pointee.duration) * timeBase
            var lines: [String] = []
            for index in 0..<Int(subtitle.num_rects) {
                guard let rect = subtitle.rects?[index]?.pointee else { continue }
                if let ass = rect.ass { lines.append(assText(String(cString: ass))) }
                else if let text = rect.text { lines.append(String(cString: text)) }
            }
            var text = lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            guard begin.isFinite, end.isFinite, end > begin, begin >= 0, !text.isEmpty else { continue }
            if text.count > CaptionFile.maxCueCharacters {
                text = String(text.prefix(CaptionFile.maxCueCharacters))
                cutCues[packet.streamIndex, default: 0] += 1
            }
            guard characters[packet.streamIndex, default: 0] + text.count <= maxTrackCharacters else {
                droppedCues[packet.streamIndex, default: 0] += 1
                continue
            }
            characters[packet.streamIndex, default: 0] += text.count
            cues[packet.streamIndex, default: []].append(CaptionFile.Cue(start: begin, end: end, text: text))
        }
        for (stream, count) in cutCues.sorted(by: { $0.key < $1.key }) {
            notes.append("subtitle stream \(stream): \(count) cue(s) cut to \(CaptionFile.maxCueCharacters) characters")
        }
        for (stream, count) in droppedCues.sorted(by: { $0.key < $1.key }) {
            notes.append("subtitle stream \(stream): \(count) cue(s) past \(CaptionFile.maxCues) cues or \(maxTrackCharacters / 1024) KiB of text left out")
        }
        let captions: [SidecarCaptions] = wanted.compactMap { track in
            guard let found = cues[Int32(track.streamIndex)], !found.isEmpty else { return nil }
            var captions = try? SidecarCaptions(language: track.language, name: track.title,
                                                file: CaptionFile(cues: found.sorted { $0.start < $1.start }),
                                                isHearingImpaired: track.isHearingImpaired)
            captions?.isForced = track.isForced
            return captions
        }
        return (captions, notes)
    }

    /// The text of an ASS dialogue event ("ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,
    /// Effect,Text", or a full "Dialogue:" line): its last field as plain text. libavcodec
    /// gives every text subtitle (mov_text, subrip, webvtt) as such an event, so ASS's rules
    /// are the ones that apply:
    /// - an override block (`{\an8}`, `{\i1}`) is dropped;
    /// - `\N` and `\n` are line breaks, `\h` a space, and `\{`, `\}` and `\\` the characters
    ///   the decoders escaped;
    /// - anything else, "<" included, is text (before, "I <3 you" lost all past the "<", and
    ///   an escaped brace dropped the text up to the next one).
    static func assText(_ event: String) -> String {
        // The text is the last field (it may hold commas): the tenth of a Dialogue line (Layer,
        // Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text), else the ninth.
        let isDialogueLine = event.hasPrefix("Dialogue:")
        let body = isDialogueLine ? event.dropFirst(9) : Substring(event)
        let count = isDialogueLine ? 10 : 9
        let fields = body.split(separator: ",", maxSplits: count - 1, omittingEmptySubsequences: false)
        var rest = fields.count == count ? fields[count - 1] : body
        var text = ""
        // A brace with no closing one after it is text: checked against the last one, so a
        // line of "{{{…" is read once, not once per brace.
        let lastClose = rest.lastIndex(of: "}")
        while let character = rest.first {
            rest = rest.dropFirst()
            if character == "{", let lastClose, rest.startIndex <= lastClose, let close = rest.firstIndex(of: "}") {
                rest = rest[rest.index(after: close)...]
            } else if character == "\\", let escaped = rest.first {
                switch escaped {
                case "N", "n": text.append("\n")
                case "h": text.append(" ")
                case "{", "}", "\\": text.append(escaped)
                default: text.append(character); text.append(escaped)
                }
                rest = rest.dropFirst()
            } else {
                text.append(character)
            }
        }
        return text
    }
}
