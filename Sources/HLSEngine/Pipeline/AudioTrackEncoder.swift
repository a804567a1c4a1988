import CAV
import Foundation

/// One audio track from the source's packets to AAC packets: decode, place on the track's
/// timeline, resample, hold for the loudness gain where the run waits for it, and encode.
/// The decode stage runs the default track's on its own thread and each other track's on a
/// thread of its own (`AudioTrackThread`); `NormalisedAudio` runs one per track for its
/// second encode. One track's counts are its own, read once its thread has joined.
final class AudioTrackEncoder {
    let chain: AudioEncodingChain
    /// Loudness normalisation: the measurement, the target and how long to hold for it; nil
    /// keeps the chain's gain (unity unless set).
    private let loudness: (pass: LoudnessPass, target: Double, hold: LoudnessPass.Hold)?
    /// Whether keeping the level (a progressive run's grace ran out) may stop the
    /// measurement: when this is the only track that waits for it.
    private let onlyTrackMeasured: Bool
    private let cancellation: CancellationFlag
    private(set) var corruptPackets = 0
    private(set) var droppedFrames = 0
    private(set) var filledGaps = 0
    /// Why the track kept its level, if it did.
    private(set) var notes: [String] = []
    /// Source packets held, undecoded, while the gain is not known: compressed, 30 s of AAC
    /// is about half a megabyte, where the same decoded and resampled was 12 MiB. Each keeps
    /// the video time it came with, for the lead rule when it is decoded.
    private var held: [(packet: Packet, videoTime: Double)] = []
    private var heldSeconds = 0.0
    private var heldBytes = 0
    /// Held compressed audio past this many bytes (uncompressed PCM in a MOV: 7.1 channels of
    /// 24-bit run to 1.2 MB a second) counts as a full hold.
    static let maxHeldBytes = 8 << 20

    init(chain: AudioEncodingChain, loudness: (pass: LoudnessPass, target: Double, hold: LoudnessPass.Hold)?,
         onlyTrackMeasured: Bool, cancellation: CancellationFlag) {
        self.chain = chain
        self.loudness = loudness
        self.onlyTrackMeasured = onlyTrackMeasured
        self.cancellation = cancellation
    }

    /// Decodes and encodes one source packet. `videoTime` is the latest video frame's:
    /// audio that runs further ahead of it than `DecodeStage.maxAudioLeadSeconds` is dropped.
    /// While the gain is not known, the packet is held undecoded (`Hold`).
    func take(_ packet: Packet, videoTime: Double, emit: (Packet) throws -> Void) throws {
        try learnGain(waiting: false)
        if chain.gain == nil, let loudness {
            held.append((try packet.reference(), videoTime))
            let duration = Double(packet.duration) * chain.decoder.timeBase.doubleValue
            // A packet that says nothing sensible of its length counts as one AAC frame.
            heldSeconds += duration.isFinite && duration > 0 && duration <= 10 ? duration : 1024 / 48_000
            heldBytes += Int(max(packet.size, 0))
            guard heldSeconds >= loudness.hold.seconds || heldBytes >= Self.maxHeldBytes else { return }
            // Waiting is worth it only if the measurement can end within the grace.
            let grace = loudness.hold.grace.map { grace in (loudness.pass.secondsLeft ?? 0) <= grace ? grace : 0 }
            try learnGain(waiting: true, seconds: grace)
            if chain.gain == nil { keepLevel() }
            try releaseHeld(emit: emit)
            return
        }
        try releaseHeld(emit: emit)
        try decode(packet, videoTime: videoTime, emit: emit)
    }

    /// The end of the track: the held packets once the gain is in, then the decoder's, the
    /// resampler's and the encoder's last samples.
    func finish(videoTime: Double, emit: (Packet) throws -> Void) throws {
        try learnGain(waiting: true)
        try releaseHeld(emit: emit)
        try decode(nil, videoTime: videoTime, emit: emit)
        try chain.resampler.push(nil)
        try encodeAvailable(final: true, emit: emit)
        try chain.encoder.encode(nil, emit: emit)
    }

    /// Sends `packet` (nil drains) and delivers every frame; a damaged one is counted.
    private func decode(_ packet: Packet?, videoTime: Double, emit: (Packet) throws -> Void) throws {
        try chain.decoder.decodeSkippingDamage(packet, rejected: { corruptPackets += 1 }) { frame in
            try deliver(frame, videoTime: videoTime, emit: emit)
        }
    }

    private func deliver(_ frame: Frame, videoTime: Double, emit: (Packet) throws -> Void) throws {
        // Dropped before it is placed: placing it would count it as a gap and buffer as much
        // silence in its stead, so a track dropped to its end (one picture, then hours of
        // sound) grew memory by 384 KB a second. What is dropped becomes a gap only if the
        // track is kept again, and is then filled within the chain's gap rule (10 s).
        if chain.nextSampleTime > videoTime + DecodeStage.maxAudioLeadSeconds {
            droppedFrames += 1
            return
        }
        if try chain.place(frame) { filledGaps += 1 }
        guard try chain.resample(frame) else {
            corruptPackets += 1  // a frame the resampler cannot take (an absurd format change)
            return
        }
        try encodeAvailable(final: false, emit: emit)
    }

    /// Re-blocks resampled audio into encoder-sized frames and encodes them. The gain is
    /// known by now: packets are decoded only once it is.
    private func encodeAvailable(final: Bool, emit: (Packet) throws -> Void) throws {
        while let block = try chain.nextBlock(final: final) {
            try chain.encode(block, emit: emit)
        }
    }

    /// Sets the track's gain from the measurement, once it is in (`waiting`: waits for it, at
    /// most `seconds` when given). Without loudness normalisation, the chain's own (unity).
    private func learnGain(waiting: Bool, seconds: Double? = nil) throws {
        guard chain.gain == nil else { return }
        guard let loudness else {
            chain.gain = 1
            return
        }
        let measurements: [Int: Loudness.Measurement]
        if waiting {
            guard let finished = loudness.pass.wait(seconds: seconds) else {
                if cancellation.isCancelled || seconds == nil { throw TranscodeError.Reason.cancelled }
                return  // the grace ran out
            }
            measurements = finished
        } else {
            guard let finished = loudness.pass.measurements else { return }
            measurements = finished
        }
        chain.measured = measurements[Int(chain.streamIndex)]
        chain.gainDecibels = chain.measured.map { Loudness.gain(for: $0, target: loudness.target) } ?? 0
        chain.gain = Float(pow(10, chain.gainDecibels / 20))
    }

    /// A progressive run whose measurement is still running when its first segment is due:
    /// the track keeps its level rather than holding up the video's first segment.
    private func keepLevel() {
        chain.gain = 1
        notes.append("\(chain.track.folder): loudness left as it is: measuring it took longer than the first segment "
                     + "(the source was still arriving)")
        if onlyTrackMeasured { loudness?.pass.stop() }
    }

    private func releaseHeld(emit: (Packet) throws -> Void) throws {
        guard !held.isEmpty else { return }
        let packets = held
        held = []
        heldSeconds = 0
        heldBytes = 0
        for (packet, videoTime) in packets { try decode(packet, videoTime: videoTime, emit: emit) }
    }
}

/// Another audio track's encoder on a thread of its own: the decode thread hands it the
/// track's source packets, and it sends the AAC packets to the track's rendition, so eight
/// dubs are encoded side by side instead of one after another on the decode thread. The
/// rendition takes the video's cuts from the decode thread directly: `SegmentCutter`
/// places audio by time, whatever the order the two arrive in, and the rendition ends only
/// once both have.
final class AudioTrackThread: @unchecked Sendable {
    // @unchecked: `encoder` belongs to the thread until `join`; `failure` is written before `done`.
    enum Input {
        /// A reference to the source packet, and the latest video frame's time then.
        case packet(Packet, videoTime: Double)
        case end(videoTime: Double)
    }

    /// A few seconds of compressed audio: the decode thread waits past it (back-pressure).
    let queue = BoundedQueue<Input>(capacity: 256)
    let encoder: AudioTrackEncoder
    private let rendition: BoundedQueue<RenditionInput>
    private let cancellation: CancellationFlag
    private let done = DispatchSemaphore(value: 0)
    private var started = false
    private(set) var failure: Error?

    init(encoder: AudioTrackEncoder, rendition: BoundedQueue<RenditionInput>, cancellation: CancellationFlag) {
        self.encoder = encoder
        self.rendition = rendition
        self.cancellation = cancellation
    }

    /// Starts the thread; it keeps the caller's priority (the decode thread's).
    func start() {
        started = true
        let thread = Thread { [self] in
            do { try run() } catch {
                failure = error
                cancellation.abort()
            }
            queue.closeAndDiscard()
            done.signal()
        }
        thread.name = "vstream.audio.\(encoder.chain.track.folder)"
        thread.start()
    }

    /// Waits for the thread (a second call returns at once).
    func join() {
        guard started else { return }
        done.wait()
        done.signal()
    }

    private func run() throws {
        let emit: (Packet) throws -> Void = { [rendition] in rendition.push(.audio($0), cost: 0) }
        while let input = queue.pop() {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            switch input {
            case .packet(let packet, let videoTime):
                try encoder.take(packet, videoTime: videoTime, emit: emit)
            case .end(let videoTime):
                try encoder.finish(videoTime: videoTime, emit: emit)
                rendition.push(.audioEnd, cost: 0)
                return
            }
        }
        throw TranscodeError.Reason.cancelled
    }
}
