import Testing
@testable import HLSEngine

@Suite("Segment clock")
struct SegmentClockTests {
    private func starts(_ times: [Double], segment: Double = 2) -> [Int] {
        var clock = SegmentClock(segmentDuration: segment)
        return times.enumerated().compactMap { clock.startsSegment(at: $1) ? $0 : nil }
    }

    @Test func constantFrameRateCutsEverySixtyFrames() {
        let frames = (0..<150).map { Double($0) / 30 }
        #expect(starts(frames) == [0, 60, 120])
    }

    @Test func ntscRateCutsAtTheFirstFrameAtOrAfterEachBoundary() {
        let frames = (0..<130).map { Double($0) * 1001 / 30000 }
        // frame 59 is at 1.968 s, frame 60 at 2.002 s.
        #expect(starts(frames) == [0, 60, 120])
    }

    @Test func countsFromTheFirstFrameNotFromZero() {
        let frames = (0..<90).map { 0.5 + Double($0) / 30 }
        #expect(starts(frames) == [0, 60])
    }

    @Test func aGapDoesNotProduceTinySegments() {
        // 1 s of 30 fps, then a 5 s gap, then 30 fps again.
        let frames = (0..<30).map { Double($0) / 30 } + (0..<90).map { 6 + Double($0) / 30 }
        #expect(starts(frames) == [0, 30, 90])
    }
}
