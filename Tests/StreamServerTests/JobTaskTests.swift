import Testing
@testable import StreamServer

/// The `task` field of a jobs-stream entry comes from Redis, which any client can write:
/// it is parsed with bounds, and a malformed one is refused rather than trusted.
@Suite("Job tasks")
struct JobTaskTests {
    @Test func everyTaskSurvivesItsField() {
        for task in [JobTask.video, .chunk(index: 0, count: 5, seconds: 6), .chunk(index: 4, count: 5, seconds: 12.5),
                     .audio(count: 5, previewSegments: 3, seconds: 6), .audio(count: 2, previewSegments: 0, seconds: 4.5),
                     .stitch(count: 5, seconds: 6)] {
            #expect(JobTask(field: task.field) == task, "\(task)")
        }
        #expect(JobTask.chunk(index: 3, count: 5, seconds: 6).field == "chunk/3/5/6")
        #expect(JobTask.stitch(count: 5, seconds: 20).field == "stitch/5/20")
        #expect(JobTask.audio(count: 5, previewSegments: 3, seconds: 6).field == "audio/5/3/6")
        #expect(JobTask(field: nil) == .video, "an entry from before chunking is a video's job")
    }

    @Test(arguments: ["", "chunk", "chunk/5/5/6", "chunk/-1/5/6", "chunk/0/0/6", "chunk/0/20001/6", "chunk/0/5/0",
                      "chunk/0/5/nan", "chunk/0/5/inf", "chunk/0/5/3601", "chunk/0/5/6/7", "chunk//5/6",
                      "stitch/5", "stitch/0/6", "stitch/5/-6", "video", "encode/1/2/3",
                      "audio/5/3", "audio/0/3/6", "audio/5/-1/6", "audio/5/99999999/6", "audio/5/3/0", "audio/5/x/6"])
    func aMalformedFieldIsRefused(_ field: String) {
        #expect(JobTask(field: field) == nil)
    }
}
