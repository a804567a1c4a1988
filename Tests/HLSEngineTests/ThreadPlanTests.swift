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

    /// The main thread's nice value, read the way `ps` does.
    private static func mainThreadNice() -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 16 ? Int32(fields[16]) : nil  // field 19 of stat; 3 is the first after ")"
    }
}
