import Testing
@testable import StreamServer

@Suite("Upload requests")
struct UploadRequestTests {
    let limit: Int64 = 5 << 30

    @Test func aValidRequestIsCutInto10MiBParts() throws {
        let plan = try UploadPlan(UploadRequest(filename: "holiday.mp4", size: 26 << 20, contentType: "video/mp4",
                                                lastModified: 1_700_000_000_000), maxBytes: limit)
        #expect(plan.partSize == 10_485_760 && plan.partCount == 3)
        #expect(plan.title == "holiday.mp4")
    }

    @Test func badRequestsGetTheRightStatus() {
        let cases: [(UploadRequest, Int)] = [
            (UploadRequest(filename: nil, size: 10, contentType: "video/mp4", lastModified: 1), 400),
            (UploadRequest(filename: "a.mp4", size: nil, contentType: "video/mp4", lastModified: 1), 400),
            (UploadRequest(filename: "a.mp4", size: 0, contentType: "video/mp4", lastModified: 1), 400),
            (UploadRequest(filename: "a.mp4", size: 10, contentType: "video/mp4", lastModified: nil), 400),
            (UploadRequest(filename: "a.mp4", size: (5 << 30) + 1, contentType: "video/mp4", lastModified: 1), 413),
            (UploadRequest(filename: "a.pdf", size: 10, contentType: "application/pdf", lastModified: 1), 415),
            (UploadRequest(filename: "a.wav", size: 10, contentType: "audio/wav", lastModified: 1), 415),
        ]
        for (request, status) in cases {
            do {
                _ = try UploadPlan(request, maxBytes: limit)
                Issue.record("accepted \(request)")
            } catch {
                #expect(error.statusCode == status, "\(request): \(error.error)")
            }
        }
    }

    @Test func partNumbersMustBeInRangeAndAtMost100() throws {
        let plan = try UploadPlan(UploadRequest(filename: "a.mp4", size: 2_000 << 20, contentType: "video/mp4",
                                                lastModified: 1), maxBytes: limit)
        try plan.validatePartNumbers([1, 2, 200])
        #expect(throws: APIError.self) { try plan.validatePartNumbers([0]) }
        #expect(throws: APIError.self) { try plan.validatePartNumbers([201]) }
        #expect(throws: APIError.self) { try plan.validatePartNumbers(Array(1...101)) }
    }
}

@Suite("Video lifecycle")
struct VideoLifecycleTests {
    @Test func theHappyPathPersistsOnlyAtStateChanges() throws {
        var video = VideoLifecycle()
        #expect(try video.uploadCompleted() == [.completeMultipartUpload, .persist(.processing, error: nil), .enqueueTranscode])
        #expect(try video.transcodeSucceeded() == [.persist(.ready, error: nil), .deleteOriginal, .publishFinal(.ready)])
        #expect(video.status == .ready)
    }

    @Test func completingTwiceIsHarmless() throws {
        var video = VideoLifecycle()
        _ = try video.uploadCompleted()
        #expect(try video.uploadCompleted() == [])
        _ = try video.transcodeSucceeded()
        #expect(try video.uploadCompleted() == [])
        #expect(try video.transcodeSucceeded() == [], "a redelivered job for a READY video is skipped")
    }

    @Test func theOriginalIsDeletedOnlyAfterReadyIsPersisted() throws {
        var video = VideoLifecycle(status: .processing)
        let actions = try video.transcodeSucceeded()
        let persisted = try #require(actions.firstIndex(of: .persist(.ready, error: nil)))
        let deleted = try #require(actions.firstIndex(of: .deleteOriginal))
        #expect(persisted < deleted)
    }

    @Test func badMediaFailsAndKeepsTheOriginal() throws {
        var video = VideoLifecycle(status: .processing)
        #expect(try video.transcodeFailed("not a media file", final: false) == [.enqueueTranscode])
        #expect(video.status == .processing)
        let actions = try video.transcodeFailed("not a media file", final: true)
        #expect(actions == [.persist(.failed, error: "not a media file"), .publishFinal(.failed)])
        #expect(!actions.contains(.deleteOriginal))
        #expect(throws: VideoLifecycle.Rejection.self) { try video.uploadCompleted() }
    }

    @Test func onlyAnUploadInProgressCanBeAborted() throws {
        var uploading = VideoLifecycle()
        #expect(try uploading.uploadAborted() == [.abortUpload, .removeRow])
        var processing = VideoLifecycle(status: .processing)
        #expect(throws: VideoLifecycle.Rejection.self) { try processing.uploadAborted() }
    }

    /// `vstream jobs requeue` goes through the lifecycle too: a FAILED video starts
    /// again from PROCESSING with its attempts reset; an UPLOADING or READY one cannot.
    @Test func aRequeueRestartsAFailedVideoAndNothingElse() throws {
        var failed = VideoLifecycle(status: .failed)
        #expect(try failed.requeued() == [.persist(.processing, error: nil), .resetAttempts, .enqueueTranscode])
        #expect(failed.status == .processing)
        var processing = VideoLifecycle(status: .processing)
        #expect(try processing.requeued() == [.resetAttempts, .enqueueTranscode])
        for status in [VideoLifecycle.Status.uploading, .ready] {
            var video = VideoLifecycle(status: status)
            #expect(throws: VideoLifecycle.Rejection.self) { try video.requeued() }
            #expect(video.status == status)
        }
    }
}
