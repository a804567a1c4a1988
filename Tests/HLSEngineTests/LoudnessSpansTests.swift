import Foundation
import Testing
@testable import HLSEngine

/// A long source's loudness is measured in spans read at once (`LoudnessRead`), so the audio
/// task's encode, which waits for the measurement, starts sooner. The spans must measure what
/// one read of the whole does, and the same whatever the host's cores.
@Suite("Loudness in spans", .serialized)
struct LoudnessSpansTests {
    /// 3.5 minutes of two tracks at different levels: one whose level swells and fades (a
    /// loudness range to measure), and a steady low tone at its crest where the first span
    /// ends (70.016 s, the first AAC frame from 70 s): a true-peak filter that starts there
    /// from silence rings 0.6 dB past the real peak.
    static func longSource(in folder: String, container: String) throws -> String {
        let source = folder + "/long." + container
        var arguments = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        for (frequency, level) in [("997", "'2*(1.2+sin(2*PI*t/41))':eval=frame"), ("200.000714", "0.5")] {
            arguments += ["-f", "lavfi", "-i", "sine=frequency=\(frequency):sample_rate=48000:duration=210,volume=\(level),pan=stereo|c0=c0|c1=c0"]
        }
        arguments += ["-map", "0:a", "-map", "1:a", "-c:a", "aac", "-b:a", "96k", source]
        let made = try Command.run(arguments)
        #expect(made.status == 0, "\(made.stderr)")
        return source
    }

    /// `spansAtOnce` nil: one read, as a whole run measures.
    static func measure(_ path: String, spansAtOnce: Int?) throws -> (figures: [Int: Loudness.Measurement], spans: Int) {
        let pass = LoudnessPass(source: try FileByteSource(path: path), name: path, streams: [0, 1], maxDurationSeconds: nil,
                                durationSeconds: 210, cancellation: CancellationFlag())
        pass.spansAtOnce = spansAtOnce
        pass.start()
        let figures = try #require(pass.wait())
        pass.stopAndJoin()
        return (figures, pass.spansRead)
    }

    @Test func spansReadAtOnceMeasureWhatOneReadDoes() throws {
        let folder = Fixtures.temporaryDirectory("loudness-spans")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.longSource(in: folder, container: "mp4")
        #expect(LoudnessRead.spans(durationSeconds: 210).count == 3)
        let whole = try Self.measure(source, spansAtOnce: nil)
        let spans = try Self.measure(source, spansAtOnce: 3)
        #expect(whole.spans == 1 && spans.spans == 3)
        for stream in [0, 1] {
            let one = try #require(whole.figures[stream]), split = try #require(spans.figures[stream])
            let (oneI, splitI) = (try #require(one.integrated), try #require(split.integrated))
            #expect(abs(oneI - splitI) < 0.05, "stream \(stream): \(one) against \(split)")
            // A span's true-peak filter starts from the samples before it, not from silence.
            #expect(abs((one.truePeak ?? 0) - (split.truePeak ?? 1)) < 0.01, "stream \(stream): \(one) against \(split)")
            #expect(abs((one.range ?? 0) - (split.range ?? 99)) < 0.5, "stream \(stream): \(one) against \(split)")
        }
        // The two tracks really were told apart (about 16 dB between them).
        #expect(abs((whole.figures[0]?.integrated ?? 0) - (whole.figures[1]?.integrated ?? 0)) > 10)
        // A host of one core reads the same spans one after another: the same figures, so the
        // same gain and bytes, wherever the task runs.
        let oneThread = try Self.measure(source, spansAtOnce: 1)
        #expect(oneThread.spans == 3 && oneThread.figures == spans.figures)
    }

    /// Matroska's cues index keyframes, not every sample: a span's read could not start where
    /// it should, so the source is measured in one read.
    @Test func aContainerThatCannotSeekToASampleIsReadWhole() throws {
        let folder = Fixtures.temporaryDirectory("loudness-spans-mkv")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try Self.longSource(in: folder, container: "mkv")
        let measured = try Self.measure(source, spansAtOnce: 3)
        #expect(measured.spans == 1)
        let whole = try Self.measure(source, spansAtOnce: nil)
        #expect(measured.figures == whole.figures)
    }
}
