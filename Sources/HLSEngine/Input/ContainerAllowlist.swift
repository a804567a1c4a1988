/// The demuxers an upload may be opened with: real video containers and raw video
/// streams. Everything else is refused before its header is read, because some formats
/// are programs rather than media: an HLS or DASH playlist, an ffconcat script, an
/// image-sequence pattern or a `subfile` URL makes libavformat open other files on the
/// server, or fetch URLs. Names are libavformat's demuxer names (`ffmpeg -demuxers`).
enum ContainerAllowlist {
    static let demuxers: Set<String> = [
        "mov,mp4,m4a,3gp,3g2,mj2",  // MP4, MOV, 3GP (phones, cameras, editors)
        "matroska,webm",
        "mpegts", "mpeg",            // MPEG-TS (broadcast, AVCHD .mts), MPEG-PS (DVD .vob)
        "avi", "flv", "ogg", "asf",  // AVI, Flash video, Ogg/Theora, WMV
        "mxf", "dv",                 // broadcast and camcorder
        "h264", "hevc", "m4v", "mpegvideo", "ivf", "obu",  // raw video streams
        "yuv4mpegpipe",              // Y4M
    ]

    /// libavformat's `format_whitelist` option: the same list, comma-separated.
    static var whitelistOption: String { demuxers.sorted().joined(separator: ",") }

    static func allows(_ demuxer: String) -> Bool { demuxers.contains(demuxer) }
}
