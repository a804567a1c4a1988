/// Orders one rendition's encoded video packets and the shared audio packets into
/// segments. A value type: events go in, actions come out, and the rendition thread
/// carries them out on the muxer. Tested with no FFmpeg at all.
///
/// The rule: segment k holds every video packet from the k-th IDR up to (not
/// including) the next one, and every audio packet whose pts is before that next
/// IDR's pts. Audio before the first video frame (a source whose video starts
/// late) belongs to the first segment.
///
/// Why packets wait: the encoder delays video (lookahead, frame threads), so audio
/// usually runs ahead. An audio packet may only be written once we know which
/// segment it belongs to: when a video packet of the current segment presents at
/// or after it, or when the next IDR has arrived and lies beyond it. Likewise a
/// cut waits until all audio before the IDR has arrived (or audio has ended).
/// What waits is compressed packets: a fraction of a second in the usual case.
struct SegmentCutter<Payload> {
    enum Action {
        /// Close the current segment (if any) and open the next; `time` is its first
        /// video frame's presentation time in seconds (the first segment may open
        /// earlier, with audio).
        case startSegment(time: Double)
        case writeVideo(Payload)
        case writeAudio(Payload)
    }

    private struct Pending {
        var payload: Payload
        var time: Double
        var startsSegment: Bool
    }

    private var video: [Pending] = []
    private var videoHead = 0
    private var audio: [Pending] = []
    private var audioHead = 0
    private var audioEnded: Bool
    private var videoEnded = false
    private var segmentOpen = false
    private var videoInSegment = false
    /// The latest presentation time among video packets written to the current segment.
    private var horizon = -Double.infinity
    /// The latest presentation time of any video packet.
    private var latestVideoTime = -Double.infinity
    /// Audio that presents up to this after the last video frame ends the last segment.
    /// What presents later is dropped where audio is muxed with the video (a segment is as
    /// long as its video: a file whose video stops early must not give a last segment of one
    /// frame and minutes of audio), and cut into segments of its own where it is not.
    let maxAudioTail: Double
    static var defaultMaxAudioTail: Double { 2 }
    private(set) var droppedAudio = 0
    /// A rendition of audio alone: the segment length it cuts the audio past the video
    /// into, from the last video segment's start (a still picture with an hour of audio
    /// keeps the hour). Nil: that audio is dropped.
    let audioOnlySegments: Double?
    /// How far audio may present past the latest video before the video counts as ended
    /// and the audio cuts itself (what waits stays bounded). Beyond `NormalisedAudio`'s
    /// lead, so a second encode cuts where the first did.
    static var videoEndedLead: Double { 60 }
    /// The time the current segment opened at (its first video frame's).
    private var segmentStart = -Double.infinity
    private var latestAudioTime = -Double.infinity
    /// The audio goes on past the video: cut it alone once the video's cuts are all out.
    private var cutsAlone = false
    /// The next audio-only cut, once cutting alone.
    private var nextAloneCut: Double?

    /// - Parameters:
    ///   - hasAudio: false for a source without audio: nothing waits for it.
    ///   - maxAudioTail: seconds of audio kept in the last segment after the last video frame.
    ///   - audioOnlySegments: see the property.
    init(hasAudio: Bool, maxAudioTail: Double = SegmentCutter.defaultMaxAudioTail, audioOnlySegments: Double? = nil) {
        audioEnded = !hasAudio
        self.maxAudioTail = maxAudioTail
        self.audioOnlySegments = audioOnlySegments.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
    }

    /// An encoded video packet in decode order. `startsSegment` is true for the IDR
    /// that was forced on a segment's first frame; `time` is its pts in seconds.
    mutating func video(_ payload: Payload, time: Double, startsSegment: Bool) -> [Action] {
        video.append(Pending(payload: payload, time: time, startsSegment: startsSegment))
        latestVideoTime = max(latestVideoTime, time)
        return drain()
    }

    /// An AAC packet; `time` is its pts in seconds.
    mutating func audio(_ payload: Payload, time: Double) -> [Action] {
        audio.append(Pending(payload: payload, time: time, startsSegment: false))
        latestAudioTime = max(latestAudioTime, time)
        if latestVideoTime > -Double.infinity, time > latestVideoTime + Self.videoEndedLead { cutAloneIfAudioOnly() }
        return drain()
    }

    /// No more audio will come.
    mutating func audioFinished() -> [Action] {
        audioEnded = true
        return drain()
    }

    /// No more video will come, while audio may (a still picture's early end): audio past
    /// the tail is cut alone from here, on the same clock as `finish` would cut it.
    mutating func videoFinished() -> [Action] {
        videoEnded = true
        if latestVideoTime > -Double.infinity, latestAudioTime > latestVideoTime + maxAudioTail { cutAloneIfAudioOnly() }
        return drain()
    }

    /// No more of anything: writes out whatever waits.
    mutating func finish() -> [Action] {
        audioEnded = true
        videoEnded = true
        if latestVideoTime > -Double.infinity, latestAudioTime > latestVideoTime + maxAudioTail { cutAloneIfAudioOnly() }
        return drain()
    }

    private mutating func cutAloneIfAudioOnly() {
        if audioOnlySegments != nil { cutsAlone = true }
    }

    private var nextVideo: Pending? { videoHead < video.count ? video[videoHead] : nil }
    private var nextAudio: Pending? { audioHead < audio.count ? audio[audioHead] : nil }

    private mutating func drain() -> [Action] {
        var actions: [Action] = []
        func open(_ time: Double) {
            actions.append(.startSegment(time: time))
            segmentOpen = true
            videoInSegment = false
            horizon = -Double.infinity
            segmentStart = time
        }
        while true {
            // Past the video, once its cuts are out: segments of audio alone, on the clock
            // of the last video segment's start; later video (none in a sane file) is let go.
            if cutsAlone, nextVideo == nil || nextAloneCut != nil, segmentOpen, let length = audioOnlySegments {
                videoHead = video.count
                guard let sample = nextAudio else { break }
                var cut = nextAloneCut ?? segmentStart + length
                if sample.time >= cut {
                    // Past a gap, the boundary at or before the sample (whole steps: no loop).
                    cut += ((sample.time - cut) / length).rounded(.down) * length
                    open(cut)
                    cut += length
                }
                nextAloneCut = cut
                actions.append(.writeAudio(sample.payload))
                audioHead += 1
                continue
            }
            if let sample = nextAudio, videoEnded || sample.time <= horizon {
                if audioOnlySegments == nil, videoEnded, latestVideoTime > -Double.infinity, sample.time > latestVideoTime + maxAudioTail {
                    droppedAudio += 1
                    audioHead += 1
                    continue
                }
                if !segmentOpen { open(sample.time) }
                actions.append(.writeAudio(sample.payload))
                audioHead += 1
                continue
            }
            guard let packet = nextVideo else { break }
            if packet.startsSegment && videoInSegment {
                // A cut: first every audio packet that presents before the IDR.
                if let sample = nextAudio {
                    if sample.time < packet.time {
                        actions.append(.writeAudio(sample.payload))
                        audioHead += 1
                        continue
                    }
                } else if !audioEnded {
                    break  // audio before the IDR may still come
                }
                open(packet.time)
            } else if !segmentOpen {
                open(packet.time)
            }
            actions.append(.writeVideo(packet.payload))
            videoInSegment = true
            horizon = max(horizon, packet.time)
            videoHead += 1
        }
        compact()
        return actions
    }

    /// Drops written entries so the arrays do not grow with the input's length.
    private mutating func compact() {
        if videoHead > 64 && videoHead * 2 > video.count {
            video.removeFirst(videoHead)
            videoHead = 0
        }
        if audioHead > 64 && audioHead * 2 > audio.count {
            audio.removeFirst(audioHead)
            audioHead = 0
        }
    }
}
