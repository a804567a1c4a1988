import Foundation
import Testing

/// Independent clients must play what we write.
@Suite("Players", .serialized)
struct PlayerTests {
    @Test(arguments: ["h264_1080p30_stereo.mp4", "portrait_rot90.mp4", "video_after_audio.mp4", "vfr.mp4"])
    func ffmpegDecodesTheMasterOverHTTPWithoutAComplaint(_ fixture: String) async throws {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture)
        let server = try StaticHTTPServer(root: outcome.directory)
        defer { server.stop() }
        let run = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-i", server.url("master.m3u8"),
                                   "-map", "0", "-f", "null", "-"])
        #expect(run.status == 0)
        #expect(run.stderr.isEmpty, "ffmpeg said: \(run.stderr)")
    }

    @Test(arguments: ["h264_1080p30_stereo.mp4", "portrait_rot90.mp4"])
    func gstreamerPlaybinReachesEndOfStream(_ fixture: String) async throws {
        let outcome = try await TranscodedFixtures.shared.outcome(fixture)
        let run = try Command.run(["gst-launch-1.0", "playbin", "uri=file://\(outcome.directory)/master.m3u8",
                                   "video-sink=fakesink sync=true", "audio-sink=fakesink sync=true"], timeout: 60)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("Got EOS from element \"playbin"))
        #expect(!run.stderr.contains("ERROR"))
    }
}
