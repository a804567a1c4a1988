import Foundation
import Testing
@testable import StreamServer

/// The decisions of the job system, as value types: no Redis, no clock, no sockets.
@Suite("Job policies")
struct JobPolicyTests {
    let policy = RetryPolicy(maxAttempts: 3, backoff: Backoff(base: .seconds(2), cap: .seconds(60)))

    @Test func backoffDoublesUpToItsCapAndJitterStaysUnderTheCeiling() {
        let backoff = Backoff(base: .milliseconds(500), cap: .seconds(8))
        #expect((0..<7).map { backoff.ceiling(retry: $0) } == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        #expect(backoff.delay(retry: 3, jitter: 0) == .zero)
        #expect(backoff.delay(retry: 3, jitter: 0.5) == .seconds(2))
        #expect(backoff.delay(retry: 3, jitter: 7) == .seconds(4), "jitter is clamped to [0, 1]")
        #expect(backoff.ceiling(retry: 500) == .seconds(8), "no overflow")
        for _ in 0..<100 {
            let wait = backoff.outageDelay(retry: 2)
            #expect(wait >= .seconds(1) && wait <= .seconds(2), "equal jitter: half the ceiling or more")
        }
    }

    @Test func aFailedAttemptIsRetriedWithBackoffUntilTheLastThenDeadLettered() {
        #expect(policy.disposition(after: .failed(reason: "S3 503"), attempt: 1, jitter: 1) == .retry(attempt: 2, delay: .seconds(2)))
        #expect(policy.disposition(after: .failed(reason: "S3 503"), attempt: 2, jitter: 1) == .retry(attempt: 3, delay: .seconds(4)))
        #expect(policy.disposition(after: .failed(reason: "S3 503"), attempt: 3, jitter: 1)
                == .deadLetter(reason: "S3 503 (after 3 attempts)"))
    }

    @Test func badMediaIsNeverRetried() {
        #expect(policy.disposition(after: .rejected(reason: "not a media file"), attempt: 1) == .deadLetter(reason: "not a media file"))
    }

    @Test func successSkipsAndCancelsEndTheEntryAndShutdownHandsItBack() {
        #expect(policy.disposition(after: .succeeded, attempt: 2) == .acknowledge)
        #expect(policy.disposition(after: .skipped, attempt: 1) == .acknowledge)
        #expect(policy.disposition(after: .cancelled, attempt: 1) == .acknowledge)
        #expect(policy.disposition(after: .interrupted, attempt: 3) == .release)
    }

    @Test func deliveriesToDeadWorkersCountAsAttempts() {
        #expect(policy.attemptForRedelivery(entryAttempt: 1, deliveries: 1) == 1)
        #expect(policy.attemptForRedelivery(entryAttempt: 1, deliveries: 3) == 3)
        #expect(policy.attemptForRedelivery(entryAttempt: 2, deliveries: 3) == nil, "a file that kills every worker stops")
    }

    @Test func drainingStopsNewJobsAndInterruptsOnlyAfterTheGrace() {
        var drain = WorkerDrain(grace: .seconds(30))
        let start = ContinuousClock.now
        #expect(drain.takesJobs && !drain.interrupts(now: start))
        drain.terminate(now: start)
        #expect(!drain.takesJobs)
        #expect(!drain.interrupts(now: start + .seconds(29)))
        drain.terminate(now: start + .seconds(29))
        #expect(drain.interrupts(now: start + .seconds(30)), "a second SIGTERM does not extend the grace")
    }

    @Test func progressIsThrottledButStageChangesAndFinalEventsAlwaysPass() {
        var throttle = ProgressThrottle(interval: .milliseconds(250))
        let video = UUID()
        let now = ContinuousClock.now
        func tick(_ stage: String) -> VideoEvent { VideoEvent(id: 0, kind: .progress, status: .processing, stage: stage, percent: 1) }
        let ready = VideoEvent(id: 0, kind: .ready, status: .ready, percent: 100)
        let sequence: [(VideoEvent, Int)] = [(tick("transcoding"), 0), (tick("transcoding"), 100), (tick("uploading"), 120),
                                             (tick("uploading"), 200), (tick("uploading"), 400), (ready, 401)]
        let admitted = sequence.map { event, milliseconds in throttle.admits(event, for: video, now: now + .milliseconds(milliseconds)) }
        // A tick 100 ms after the last is dropped; a new stage or a final event never is.
        #expect(admitted == [true, false, true, false, true, true])
    }

    @Test func aClaimHeartbeatsEveryThirdOfTheTimeoutAndChecksForDeletionEveryTick() {
        let start = ContinuousClock.now
        var claim = JobClaim(visibilityTimeout: .seconds(60), now: start)
        #expect(claim.tick(now: start + .seconds(1), graceExpired: false) == [.checkCancel])
        #expect(claim.cancelChecked(deleted: false) == nil)
        #expect(claim.tick(now: start + .seconds(20), graceExpired: false) == [.checkCancel, .heartbeat])
        #expect(claim.heartbeatAnswered(mine: true, now: start + .seconds(20)) == nil)
        #expect(claim.tick(now: start + .seconds(21), graceExpired: false) == [.checkCancel], "the beat was recorded")
    }

    @Test func aShortTimeoutIsRefreshedEveryThirdOfItNotOnTheCheckGrid() {
        let start = ContinuousClock.now
        var claim = JobClaim(visibilityTimeout: .seconds(1), now: start)
        var now = start
        var beats: [Duration] = []
        for _ in 0..<40 where beats.count < 6 {
            now += claim.untilNextTick(now: now)
            if claim.tick(now: now, graceExpired: false).contains(.heartbeat) {
                beats.append(now - start)
                #expect(claim.heartbeatAnswered(mine: true, now: now) == nil)
            }
        }
        // Beats a third of the timeout apart (the 250 ms grid alone beat every 500 ms:
        // half the timeout, so one late tick let another worker take the entry).
        let gaps = zip(beats, [.zero] + beats).map { $0 - $1 }
        #expect(beats.count == 6 && gaps.allSatisfy { $0 < .milliseconds(334) }, "\(beats)")
        // Deletion is still checked at least every 250 ms.
        #expect(JobClaim(visibilityTimeout: .seconds(60), now: start).untilNextTick(now: start) == JobClaim.checkInterval)
    }

    @Test func aFailedHeartbeatIsNotALostClaim() {
        let start = ContinuousClock.now
        var claim = JobClaim(visibilityTimeout: .seconds(3), now: start)
        #expect(claim.tick(now: start + .seconds(1), graceExpired: false) == [.checkCancel, .heartbeat])
        #expect(claim.heartbeatAnswered(mine: nil, now: start + .seconds(1)) == nil, "Redis unreachable: carry on")
        #expect(claim.cancelChecked(deleted: nil) == nil)
        #expect(claim.untilNextTick(now: start + .seconds(1)) == JobClaim.checkInterval, "overdue: no busy loop")
        #expect(claim.tick(now: start + .seconds(1.25), graceExpired: false) == [.checkCancel, .heartbeat], "try again next tick")
        #expect(claim.stopped == nil)
    }

    @Test func aLostClaimStopsTheJobAndLeavesTheEntryAlone() {
        let start = ContinuousClock.now
        var claim = JobClaim(visibilityTimeout: .seconds(3), now: start)
        #expect(claim.heartbeatAnswered(mine: false, now: start + .seconds(1)) == .stop(.claimLost))
        #expect(claim.tick(now: start + .seconds(2), graceExpired: true) == [], "stopped once")
        #expect(claim.settledOutcome(.succeeded) == nil, "another worker owns the entry")
        #expect(claim.settledOutcome(.cancelled) == nil)
    }

    @Test func aDeletionOrTheEndOfTheGraceStopsTheJob() {
        let start = ContinuousClock.now
        var deleted = JobClaim(visibilityTimeout: .seconds(60), now: start)
        #expect(deleted.cancelChecked(deleted: true) == .stop(.videoDeleted))
        #expect(deleted.settledOutcome(.cancelled) == .cancelled, "acknowledged: the job is over")

        var leaving = JobClaim(visibilityTimeout: .seconds(60), now: start)
        #expect(leaving.tick(now: start + .seconds(1), graceExpired: true) == [.stop(.shutdown)])
        #expect(leaving.settledOutcome(.cancelled) == .interrupted, "handed back for another worker")
        #expect(leaving.settledOutcome(.succeeded) == .succeeded, "it finished first: nothing to hand back")
    }
}
