/// One rung of the output ladder: its displayed size and its x264 rate control.
public struct Rendition: Sendable, Equatable, Codable, Hashable {
    /// "360p", "720p", …: also the name of its folder in the output.
    public var name: String
    /// Output size in square pixels, rotation applied; both even.
    public var width: Int
    public var height: Int
    /// Target average video bit rate, bits per second.
    public var videoBitrate: Int
    /// VBV: the peak rate and buffer that keep segments within what a player was promised.
    public var maxBitrate: Int
    public var bufferSize: Int

    public init(name: String, width: Int, height: Int, videoBitrate: Int) {
        self.name = name
        self.width = width
        self.height = height
        self.videoBitrate = videoBitrate
        // Apple's HLS authoring spec allows peak up to 110% of average for VOD;
        // 1.07x keeps measured peaks well inside it, with a 1.5 s buffer.
        self.maxBitrate = videoBitrate * 107 / 100
        self.bufferSize = videoBitrate * 3 / 2
    }
}
