import Foundation
import Testing
@testable import HLSEngine

@Suite("Thread plan")
struct ThreadPlanTests {
    private let ladder = Ladder.renditions(for: DisplayGeometry(codedWidth: 1920, codedHeight: 1080),
                                           rungs: Ladder.defaultRungs)

    @Test func twoCoresGiveEveryRungOneThreadAndFavourTheLargest() {
        let plan = ThreadPlan.make(for: ladder, cores: 2, encoderThreads: nil, prioritizeLargestRung: true)
        #expect(plan.encoderThreads == [1, 1, 1])
        #expect(plan.criticalRendition == 2, "1080p is the critical path")
        #expect(plan.lowersDecoderPriority)
        #expect([0, 1, 2].map(plan.lowersPriority(ofRendition:)) == [true, true, false])
    }

    @Test func moreCoresGoToTheRungsWithMorePixels() {
        #expect(ThreadPlan.make(for: ladder, cores: 4, encoderThreads: nil, prioritizeLargestRung: true).encoderThreads == [1, 1, 2])
        #expect(ThreadPlan.make(for: ladder, cores: 8, encoderThreads: nil, prioritizeLargestRung: true).encoderThreads == [1, 2, 5])
        #expect(ThreadPlan.make(for: ladder, cores: 1, encoderThreads: nil, prioritizeLargestRung: true).encoderThreads == [1, 1, 1])
    }

    @Test func anOverrideAppliesToEveryRung() {
        let plan = ThreadPlan.make(for: ladder, cores: 2, encoderThreads: 3, prioritizeLargestRung: true)
        #expect(plan.encoderThreads == [3, 3, 3])
    }

    @Test func fairSchedulingLowersNoThread() {
        let plan = ThreadPlan.make(for: ladder, cores: 2, encoderThreads: nil, prioritizeLargestRung: false)
        #expect(plan.criticalRendition == nil)
        #expect(!plan.lowersDecoderPriority)
        #expect(![0, 1, 2].contains(where: plan.lowersPriority(ofRendition:)))
    }

    @Test func aSingleRungIsTheCriticalOne() {
        let one = Ladder.renditions(for: DisplayGeometry(codedWidth: 640, codedHeight: 360), rungs: Ladder.defaultRungs)
        let plan = ThreadPlan.make(for: one, cores: 2, encoderThreads: nil, prioritizeLargestRung: true)
        #expect(plan.encoderThreads == [2])
        #expect(plan.criticalRendition == 0)
    }

    /// The plan relies on Linux keeping a nice value per thread: lowering one stage
    /// must not slow the critical rung's thread, or the whole pipeline.
    @Test func loweringPriorityTouchesOnlyTheCallingThread() async {
        let before = ThreadPriority.currentNice
        let seen = await withCheckedContinuation { (continuation: CheckedContinuation<(Int32, Int32), Never>) in
            let thread = Thread {
                let start = ThreadPriority.currentNice
                ThreadPriority.lowerCurrentThread()
                continuation.resume(returning: (start, ThreadPriority.currentNice))
            }
            thread.start()
        }
        #expect(seen.1 == min(seen.0 + ThreadPriority.feederNiceIncrement, 19))
        #expect(ThreadPriority.currentNice == before, "the calling thread keeps its priority")
        #expect(Self.mainThreadNice() == seen.0, "the process as a whole is not lowered")
    }

    /// A running transcode applies the plan: the decode thread and the 360p and 720p
    /// threads run lowered, and the 1080p thread does not.
    @Test func aTranscodeLowersEveryStageButTheLargestRung() async throws {
        let directory = Fixtures.temporaryDirectory("priorities") + "/hls"
        let transcoder = Transcoder(input: Fixtures.path("h264_1080p30_stereo.mp4"), output: directory)
        let base = try #require(Self.mainThreadNice())
        let task = Task { try await transcoder.run() }
        var lowered = 0
        for await event in transcoder.events where event.framesDone > 10 {
            lowered = Self.threadNiceValues().filter { $0 == min(base + ThreadPriority.feederNiceIncrement, 19) }.count
            break
        }
        _ = try await task.value
        #expect(lowered == 3, "decode, 360p and 720p lowered; 1080p at the normal priority")
    }

    /// The main thread's nice value, read the way `ps` does.
    private static func mainThreadNice() -> Int32? {
        niceValue(statPath: "/proc/self/stat")
    }

    /// Every thread's nice value in this process.
    private static func threadNiceValues() -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { niceValue(statPath: "/proc/self/task/\($0)/stat") }
    }

    private static func niceValue(statPath: String) -> Int32? {
        guard let stat = try? String(contentsOfFile: statPath, encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 16 ? Int32(fields[16]) : nil  // field 19 of stat; 3 is the first after ")"
    }
}
