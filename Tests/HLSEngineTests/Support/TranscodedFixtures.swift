import Foundation
@testable import HLSEngine

/// Transcodes each fixture once per test run and shares the outcome among tests.
actor TranscodedFixtures {
    static let shared = TranscodedFixtures()

    struct Outcome: Sendable {
        var source: String
        var directory: String
        var result: TranscodeResult
        var events: [TranscodeEvent]
        /// Whether `master.m3u8` existed when each event was received.
        var masterExistedAt: [Bool]
    }

    private var tasks: [String: Task<Outcome, Error>] = [:]

    /// - Parameter dash: a DASH ladder (`TranscodeOptions.dash`), transcoded progressively.
    func outcome(_ fixture: String, format: SegmentFormat = .fmp4, dash: Bool = false) async throws -> Outcome {
        let key = "\(fixture)|\(format.rawValue)|\(dash)"
        if let task = tasks[key] { return try await task.value }
        let task = Task { try await Self.transcode(fixture, format: format, dash: dash) }
        tasks[key] = task
        return try await task.value
    }

    static func transcode(_ fixture: String, format: SegmentFormat, dash: Bool) async throws -> Outcome {
        let directory = Fixtures.temporaryDirectory("out-\(fixture)\(dash ? "-dash" : "")") + "/hls"
        var options = TranscodeOptions()
        options.segmentFormat = format
        options.dash = dash
        options.progressive = dash
        let transcoder = Transcoder(input: Fixtures.path(fixture), output: directory, options: options)
        let master = directory + "/master.m3u8"
        let collector = Task {
            var events: [TranscodeEvent] = [], existed: [Bool] = []
            for await event in transcoder.events {
                events.append(event)
                existed.append(FileManager.default.fileExists(atPath: master))
            }
            return (events, existed)
        }
        let result = try await transcoder.run()
        let (events, existed) = await collector.value
        return Outcome(source: Fixtures.path(fixture), directory: directory, result: result,
                       events: events, masterExistedAt: existed)
    }
}
