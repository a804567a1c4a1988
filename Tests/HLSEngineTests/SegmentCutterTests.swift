import Testing
@testable import HLSEngine

/// The cutter with no FFmpeg: payloads are labels, and we read back which segment
/// each label was written to.
@Suite("Segment cutter")
struct SegmentCutterTests {
    private struct Recorder {
        var segments: [[String]] = []
        mutating func apply(_ actions: [SegmentCutter<String>.Action]) {
            for action in actions {
                switch action {
                case .startSegment: segments.append([])
                case .writeVideo(let label), .writeAudio(let label):
                    if segments.isEmpty { segments.append(["<no segment>"]) }
                    segments[segments.count - 1].append(label)
                }
            }
        }
    }

    /// A rendition of audio alone keeps the audio that plays on past the video: up to the
    /// tail in the last segment, as a muxed rung does, and the rest in segments of its own,
    /// every 2 s from the last video segment's start. A muxed rung drops what is past the tail.
    @Test(arguments: [false, true])
    func audioPastTheVideoIsCutAloneInARenditionOfAudioAlone(_ alone: Bool) {
        var cutter = SegmentCutter<String>(hasAudio: true, audioOnlySegments: alone ? 2 : nil)
        var recorder = Recorder()
        recorder.apply(cutter.video("v0", time: 0, startsSegment: true))
        recorder.apply(cutter.video("v2", time: 2, startsSegment: true))
        for time in stride(from: 0.0, through: 7.5, by: 0.5) { recorder.apply(cutter.audio("a\(time)", time: time)) }
        recorder.apply(cutter.finish())
        let segments = recorder.segments.filter { !$0.isEmpty }.map { $0.sorted() }
        #expect(segments.first == ["a0.0", "a0.5", "a1.0", "a1.5", "v0"])
        if alone {
            #expect(Array(segments.dropFirst()) == [["a2.0", "a2.5", "a3.0", "a3.5", "v2"], ["a4.0", "a4.5", "a5.0", "a5.5"],
                                                    ["a6.0", "a6.5", "a7.0", "a7.5"]])
        } else {
            #expect(Array(segments.dropFirst()) == [["a2.0", "a2.5", "a3.0", "a3.5", "a4.0", "v2"]], "dropped past the 2 s tail")
            #expect(cutter.droppedAudio == 7)
        }
    }

    /// Audio a minute past the latest video: the video counts as ended and the audio is cut
    /// alone at once, so what waits stays bounded (a still picture with an hour of audio).
    @Test func audioFarPastTheVideoIsCutWithoutWaitingForTheEnd() {
        var cutter = SegmentCutter<String>(hasAudio: true, audioOnlySegments: 2)
        var recorder = Recorder()
        recorder.apply(cutter.video("v0", time: 0, startsSegment: true))
        var written = 0
        for second in 0...70 {
            let actions = cutter.audio("a\(second)", time: Double(second))
            written += actions.filter { if case .writeAudio = $0 { true } else { false } }.count
            recorder.apply(actions)
            if second == 64 { recorder.apply(cutter.video("v64", time: 64, startsSegment: true)) }
        }
        #expect(written >= 62, "cut as it comes, not held to the end: \(written) written")
        recorder.apply(cutter.finish())
        let segments = recorder.segments.filter { !$0.isEmpty }
        #expect(segments.count == 36 && segments.first == ["v0", "a0", "a1"] && segments.last == ["a70"])
        #expect(segments.dropFirst().allSatisfy { $0.count <= 2 }, "2 s each")
        #expect(!segments.joined().contains("v64"), "video after the audio went alone is let go")
        #expect(segments.joined().filter { $0.hasPrefix("a") }.count == 71, "every audio packet written")
    }

    @Test func audioGoesToTheSegmentItPresentsIn() {
        var cutter = SegmentCutter<String>(hasAudio: true)
        var recorder = Recorder()
        // Audio runs ahead of video, as it does behind x264's lookahead.
        recorder.apply(cutter.audio("a0.0", time: 0.0))
        recorder.apply(cutter.audio("a1.0", time: 1.0))
        recorder.apply(cutter.audio("a2.0", time: 2.0))
        recorder.apply(cutter.video("v0.0", time: 0.0, startsSegment: true))
        recorder.apply(cutter.video("v1.5", time: 1.5, startsSegment: false))
        recorder.apply(cutter.audio("a2.5", time: 2.5))
        recorder.apply(cutter.video("v2.0", time: 2.0, startsSegment: true))
        recorder.apply(cutter.video("v3.0", time: 3.0, startsSegment: false))
        recorder.apply(cutter.finish())
        // Which segment a packet lands in is what matters, not the order inside it.
        #expect(recorder.segments.map { $0.sorted() } == [["a0.0", "a1.0", "v0.0", "v1.5"], ["a2.0", "a2.5", "v2.0", "v3.0"]])
        #expect(recorder.segments.map(\.first) == ["v0.0", "v2.0"], "a segment opens with its IDR")
    }

    @Test func aCutWaitsForTheAudioBeforeIt() {
        var cutter = SegmentCutter<String>(hasAudio: true)
        var recorder = Recorder()
        recorder.apply(cutter.video("v0", time: 0, startsSegment: true))
        recorder.apply(cutter.video("v1", time: 1, startsSegment: false))
        // The IDR at 2 s arrives before any audio: nothing may be cut yet.
        let early = cutter.video("v2", time: 2, startsSegment: true)
        #expect(!early.contains { if case .startSegment = $0 { true } else { false } })
        recorder.apply(early)
        recorder.apply(cutter.audio("a0", time: 0))
        recorder.apply(cutter.audio("a1.9", time: 1.9))
        recorder.apply(cutter.audio("a2.1", time: 2.1))
        recorder.apply(cutter.finish())
        #expect(recorder.segments.map { $0.sorted() } == [["a0", "a1.9", "v0", "v1"], ["a2.1", "v2"]])
    }

    @Test func audioBeforeTheFirstVideoFrameJoinsTheFirstSegment() {
        var cutter = SegmentCutter<String>(hasAudio: true)
        var recorder = Recorder()
        recorder.apply(cutter.audio("a0", time: 0))
        recorder.apply(cutter.audio("a0.25", time: 0.25))
        recorder.apply(cutter.video("v0.5", time: 0.5, startsSegment: true))
        recorder.apply(cutter.finish())
        #expect(recorder.segments == [["v0.5", "a0", "a0.25"]])
    }

    @Test func reorderedBFramesStayInTheirGOP() {
        var cutter = SegmentCutter<String>(hasAudio: false)
        var recorder = Recorder()
        // Decode order I P B B | I ...: B-frames present before the P but after the I.
        for (label, time, start) in [("I0", 0.0, true), ("P3", 0.1, false), ("B1", 0.033, false), ("B2", 0.066, false),
                                     ("I2", 2.0, true), ("P5", 2.1, false)] {
            recorder.apply(cutter.video(label, time: time, startsSegment: start))
        }
        recorder.apply(cutter.finish())
        #expect(recorder.segments == [["I0", "P3", "B1", "B2"], ["I2", "P5"]])
    }

    @Test func audioThatEndsEarlyReleasesTheCut() {
        var cutter = SegmentCutter<String>(hasAudio: true)
        var recorder = Recorder()
        recorder.apply(cutter.audio("a0", time: 0))
        recorder.apply(cutter.video("v0", time: 0, startsSegment: true))
        recorder.apply(cutter.video("v2", time: 2, startsSegment: true))
        recorder.apply(cutter.audioFinished())
        #expect(recorder.segments == [["v0", "a0"], ["v2"]])
    }

    @Test func withoutAudioEveryIDRCutsAtOnce() {
        var cutter = SegmentCutter<String>(hasAudio: false)
        var recorder = Recorder()
        recorder.apply(cutter.video("v0", time: 0, startsSegment: true))
        recorder.apply(cutter.video("v2", time: 2, startsSegment: true))
        #expect(recorder.segments == [["v0"], ["v2"]])
    }
}
