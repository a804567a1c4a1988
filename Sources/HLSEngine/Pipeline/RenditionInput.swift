/// What the decode thread sends down each rendition's queue.
enum RenditionInput: Sendable {
    /// A decoded source frame, shared by every rendition (read-only). Its pts is
    /// already on the output timeline. `startsSegment` is the `SegmentClock`'s decision,
    /// made once for all renditions.
    case video(Frame, startsSegment: Bool)
    /// An AAC packet of the one shared audio track (read-only; take a reference to mux).
    case audio(Packet)
    /// Where a video frame the chunk does not encode presents (split and stitch): chunk 0
    /// cuts the whole file's audio at the whole file's segment starts. Rungs never get it.
    case cut(time: Double, startsSegment: Bool)
    /// The source has no more video, though its audio goes on (`DecodeStage`'s early end of
    /// a still picture): a rung closes its last segment now, and its `download.mp4` takes
    /// the audio until `.end`. Rungs beside separate audio renditions only.
    case videoEnd
    /// The source has no more audio.
    case audioEnd
    /// The source has no more of anything: flush and close.
    case end
}
