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
    /// Audio that presents more than this after the last video frame is dropped at the
    /// end: a segment is as long as its video, and a file whose video stops early must
    /// not give a last segment of one frame and minutes of audio.
    let maxAudioTail: Double
    static var defaultMaxAudioTail: Double { 2 }
    private(set) var droppedAudio = 0

    /// - Parameters:
    ///   - hasAudio: false for a source without audio: nothing waits for it.
    ///   - maxAudioTail: seconds of audio kept after the last video frame.
    init(hasAudio: Bool, maxAudioTail: Double = SegmentCutter.defaultMaxAudioTail) {
        audioEnded = !hasAudio
        self.maxAudioTail = maxAudioTail
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
        return drain()
    }

    /// No more audio will come.
    mutating func audioFinished() -> [Action] {
        audioEnded = true
        return drain()
    }

    /// No more of anything: writes out whatever waits.
    mutating func finish() -> [Action] {
        audioEnded = true
        videoEnded = true
        return drain()
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
        }
        while true {
            if let sample = nextAudio, videoEnded || sample.time <= horizon {
                if videoEnded, latestVideoTime > -Double.infinity, sample.time > latestVideoTime + maxAudioTail {
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
