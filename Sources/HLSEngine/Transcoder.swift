import Foundation

/// Transcodes one video file into an HLS ladder (H.264/AAC, 2 s segments,
/// master and variant playlists), in-process.
///
/// ```swift
/// let transcoder = Transcoder(input: "upload.mp4", output: "out/", options: TranscodeOptions())
/// Task { for await event in transcoder.events { print(event.percent) } }
/// let result = try await transcoder.run()
/// print(result.masterPlaylist)
/// ```
///
/// The work runs on threads of its own (one decoding, one per rendition), not on the
/// Swift concurrency pool. Cancelling the task that awaits `run()` stops it within a
/// second and removes what was written.
public final class Transcoder: Sendable {
    public let input: String
    public let output: String
    public let options: TranscodeOptions

    /// Progress events, from probing to `.done`. Ends when `run()` returns. Buffers
    /// only the newest event, so a slow reader never holds the transcode back.
    public let events: AsyncStream<TranscodeEvent>

    /// With `options.progressive`: each completed segment, and the early master once
    /// every rung has one, in order. Unbounded (one entry per segment), so none is lost;
    /// ends when `run()` returns. Empty for a transcode that is not progressive.
    public let publications: AsyncStream<Publication>
    private let publicationSink: AsyncStream<Publication>.Continuation

    private let progress: ProgressTracker
    private let cancellation = CancellationFlag()
    private let source: (any ByteSource)?

    /// - Parameters:
    ///   - input: path of a local media file.
    ///   - output: directory for `master.m3u8` and one folder per rendition; created if needed.
    public convenience init(input: String, output: String, options: TranscodeOptions = TranscodeOptions()) {
        self.init(name: input, source: nil, output: output, options: options)
    }

    /// Transcodes bytes from any seekable source: storage the app reads itself, or memory.
    /// - Parameter name: what messages call the input.
    public convenience init(source: any ByteSource, name: String, output: String, options: TranscodeOptions = TranscodeOptions()) {
        self.init(name: name, source: source, output: output, options: options)
    }

    private init(name input: String, source: (any ByteSource)?, output: String, options: TranscodeOptions) {
        self.source = source
        self.input = input
        self.output = output
        self.options = options
        let (stream, continuation) = AsyncStream.makeStream(of: TranscodeEvent.self, bufferingPolicy: .bufferingNewest(1))
        self.events = stream
        self.progress = ProgressTracker(continuation: continuation)
        (publications, publicationSink) = AsyncStream.makeStream(of: Publication.self, bufferingPolicy: .unbounded)
    }

    private func pipeline() -> TranscodePipeline {
        var pipeline = TranscodePipeline(inputPath: input, source: source, outputDirectory: output, options: options,
                                         cancellation: cancellation, progress: progress)
        let sink = publicationSink
        pipeline.publish = { sink.yield($0) }
        return pipeline
    }

    /// Transcodes. Call once.
    /// - Returns: the renditions written, with their measured bit rates and durations.
    /// - Throws: `TranscodeError`, naming the input; nothing is left in `output` then.
    public func run() async throws -> TranscodeResult {
        let pipeline = pipeline()
        let progress = self.progress, sink = publicationSink
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TranscodeResult, Error>) in
                let thread = Thread {
                    let result = Result { () throws(TranscodeError) -> TranscodeResult in try pipeline.run() }
                    progress.finish()
                    sink.finish()
                    continuation.resume(with: result.mapError { $0 as Error })
                }
                thread.name = "vstream.pipeline"
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            cancellation.cancel()
        }
    }

    /// Transcodes on the calling thread, blocking it (a command-line tool's or a fuzzer's
    /// thread; never call it from the Swift concurrency pool). Call once, and not with `run()`.
    public func runSynchronously() throws(TranscodeError) -> TranscodeResult {
        defer {
            progress.finish()
            publicationSink.finish()
        }
        return try pipeline().run()
    }

    /// Stops a running transcode, like cancelling the task that awaits `run()`.
    public func cancel() { cancellation.cancel() }
}
