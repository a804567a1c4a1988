import CAV

/// Reads a source's video packet timestamps (demuxing only: no decoding) and makes its
/// `ChunkPlan`. It reads the input to its end, so give it one of its own: a seek back to the
/// start can land past a Matroska file's first audio packets. The times are put on the
/// output timeline as the decode stage puts them (from the input's start), so the plan's
/// boundaries are the whole-file run's cuts.
///
/// A source whose timestamps the decode stage would have to repair (missing, repeated,
/// out of order after sorting, jumping by more than `TimestampRepair`'s gap) cannot be
/// cut where a whole-file run cuts it: it gets one chunk, never a wrong stitch.
///
/// With `maxDurationSeconds`, it stops reading once it has seen more frames than the limit
/// allows at the stream's rate (the probe's frame budget): a file whose container undercounts
/// its frames cannot make it keep millions of timestamps.
///
/// A file that holds fewer frames than its container declares (an upload cut off) is
/// refused as `truncated`, by the whole run's rule: a plan of the frames that are there
/// would publish a shorter video that the whole run refuses.
enum ChunkPlanner {
    /// Why a source is transcoded whole.
    enum Refusal: Error, Equatable {
        case timestampsNeedRepair(String)
    }

    static func plan(_ input: InputFile, info: MediaInfo, segmentDuration: Double, chunkSeconds: Double,
                     maxDurationSeconds: Double? = nil, cancellation: CancellationFlag) throws -> Result<ChunkPlan, Refusal> {
        guard let stream = input.stream(Int32(info.video.streamIndex)) else { throw TranscodeError.Reason.noVideoStream }
        let rate = try FrameRate.choose(stream).perSecond
        let frameLimit = maxDurationSeconds.map { Int(min(($0 * rate).rounded(.up), 1e15)) + 1 }
        let timeBase = stream.pointee.time_base
        let seconds = Double(timeBase.num) / Double(max(timeBase.den, 1))
        let start = input.context.pointee.start_time
        let origin = start == noPTS ? Int64(0) : rescale(start, from: cav_time_base_q(), to: timeBase)
        var ticks: [Int64] = []
        var keyframeTicks: [Int64] = []  // decode times, where a chunk run may seek
        var wholePackets = 0  // those the decode stage can make a frame of (the file's last may be cut inside)
        let packet = Packet()
        while try input.read(into: packet) {
            if cancellation.isCancelled { throw TranscodeError.Reason.cancelled }
            guard packet.streamIndex == Int32(info.video.streamIndex) else { continue }
            guard packet.pts != noPTS else { return .failure(.timestampsNeedRepair("a video packet has no timestamp")) }
            let (tick, overflow) = packet.pts.subtractingReportingOverflow(origin)
            guard !overflow else { return .failure(.timestampsNeedRepair("a video timestamp is out of range")) }
            ticks.append(tick)
            if !packet.isMarkedCorrupt { wholePackets += 1 }
            if packet.isKeyframe, packet.dts != noPTS, case (let decodeTick, false) = packet.dts.subtractingReportingOverflow(origin) {
                keyframeTicks.append(decodeTick)
            }
            if let frameLimit, let limit = maxDurationSeconds, ticks.count > frameLimit {
                throw TranscodeError.Reason.tooLong(seconds: Double(ticks.count) / rate, limit: limit)
            }
        }
        if info.video.isCutOff(framesRead: wholePackets) {
            throw TranscodeError.Reason.truncated(decodedFrames: wholePackets, declaredFrames: info.video.frameCount)
        }
        ticks.sort()
        // What `TimestampRepair` would leave alone: a first frame within 10 s of the start,
        // then strictly increasing steps of at most 10 s.
        let maxGap = Int64((10 / seconds).rounded())
        guard let first = ticks.first, first >= 0, first <= maxGap else {
            return .failure(.timestampsNeedRepair("the first frame is not within 10 s of the start"))
        }
        for (previous, next) in zip(ticks, ticks.dropFirst()) {
            let (step, overflow) = next.subtractingReportingOverflow(previous)  // a hostile file's timestamps span Int64
            if overflow || step <= 0 || step > maxGap { return .failure(.timestampsNeedRepair("the timestamps repeat or jump")) }
        }
        // A variable frame rate is cut too: x264 times a run's first packets from that run's
        // own first frames, and each chunk takes the whole run's timing from the plan's
        // frame windows instead (`WholeRunVideoTiming`).
        return .success(ChunkPlan(frameTimes: ticks.map { Double($0) * seconds }, segmentDuration: segmentDuration,
                                  chunkSeconds: chunkSeconds, keyframeDecodeTimes: keyframeTicks.map { Double($0) * seconds }))
    }
}
