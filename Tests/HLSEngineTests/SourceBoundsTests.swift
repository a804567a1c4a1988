import CAV
import Testing
@testable import HLSEngine

/// The boundary against hostile values, tested as tables with no media.
@Suite("Source bounds and timestamp repair")
struct SourceBoundsTests {
    @Test func pixelAspectRefusesWhatNoRealFileHasAndNamesIt() throws {
        #expect(try PixelAspect(AVRational(num: 0, den: 1)) == PixelAspect(AVRational(num: 1, den: 1)))
        #expect(try PixelAspect(AVRational(num: 16, den: 15)).num == 16)
        for (num, den) in [(Int32.max, Int32(1)), (1, .max), (17, 1), (-4, 3), (4, -3)] {
            #expect(throws: TranscodeError.Reason.outOfRange("pixel aspect \(num):\(den)")) {
                try PixelAspect(AVRational(num: num, den: den))
            }
        }
    }

    @Test func frameRatePrefersTheAverageThenTheBaseThenThirtyAndRefusesAbsurdOnes() throws {
        #expect(try FrameRate.choose(average: .init(num: 30000, den: 1001), base: .init(num: 60, den: 1)).rational.num == 30000)
        #expect(try FrameRate.choose(average: .init(num: Int32.max, den: 1), base: .init(num: 25, den: 1)).perSecond == 25)
        #expect(try FrameRate.choose(average: .init(num: 0, den: 0), base: .init(num: 0, den: 1)).perSecond == 30)
        #expect(throws: TranscodeError.Reason.outOfRange("frame rate 2147483647/1")) {
            try FrameRate.choose(average: .init(num: Int32.max, den: 1), base: .init(num: Int32.max, den: 1))
        }
        #expect(throws: TranscodeError.Reason.self) { try TimeBase(AVRational(num: Int32.max, den: 1)) }
        #expect(throws: TranscodeError.Reason.self) { try AudioFormat(sampleRate: 0, channels: 2) }
        #expect(throws: TranscodeError.Reason.self) { try AudioFormat(sampleRate: 48_000, channels: 65) }
        #expect(try AudioFormat(sampleRate: 44_100, channels: 0).sampleRate == 44_100)
    }

    @Test func ordinaryVariableSpacingIsKeptExactly() {
        var repair = TimestampRepair(frameDuration: 3000, maxGap: 900_000, origin: 90_000)
        #expect([90_000, 93_000, 99_000, 100_500, 190_000].map { repair.next($0) } == [0, 3000, 9000, 10_500, 100_000])
        #expect(repair.discontinuities == 0)
    }

    @Test func repeatsJumpsAndBackwardStepsArePlacedOneFrameOnAndTheTimelineReBased() {
        var repair = TimestampRepair(frameDuration: 3000, maxGap: 900_000, origin: 0)
        let out = [0, 3000, 3000, 6000, 3_600_000_000, 3_600_003_000, 10, nil, 16].map { repair.next($0) }
        #expect(out == [0, 3000, 6000, 9000, 12_000, 15_000, 18_000, 21_000, 24_000])
        #expect(repair.discontinuities == 5, "the repeat, the jump, the step back, the missing pts, and the step back after it")
        #expect(zip(out, out.dropFirst()).allSatisfy { $0 < $1 }, "strictly increasing")
    }

    @Test func timestampsAtTheInt64LimitsNeverTrap() {
        var repair = TimestampRepair(frameDuration: 1, maxGap: 10, origin: Int64.min)
        let out = [Int64.max, Int64.min, Int64.max - 1, 0, Int64.min + 1].map { repair.next($0) }
        #expect(zip(out, out.dropFirst()).allSatisfy { $0 < $1 })
        #expect(out.allSatisfy { $0 >= 0 && $0 < 100 })
    }
}
