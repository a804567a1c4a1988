import CAV

/// Frees an `AVIOContext` made with `avio_alloc_context` and its buffer. libavformat may
/// have replaced the buffer it was given, so the one to free is the context's current one.
func freeCustomIO(_ context: UnsafeMutablePointer<AVIOContext>) {
    var buffer: UnsafeMutablePointer<UInt8>? = context.pointee.buffer
    av_freep(&buffer)
    var owned: UnsafeMutablePointer<AVIOContext>? = context
    avio_context_free(&owned)
}
