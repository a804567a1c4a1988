/// How many x264 threads each rendition gets.
///
/// Three encoders with x264's automatic threads (1.5 x cores each) oversubscribe a
/// small host, and the largest rung finishes last. So threads are shared out by
/// pixel count: the 1080p rung, with ~65% of the ladder's pixels, gets most of them.
enum ThreadBudget {
    static func encoderThreads(for renditions: [Rendition], cores: Int, override: Int?) -> [Int] {
        if let override, override > 0 { return renditions.map { _ in override } }
        let pixels = renditions.map { Double($0.width * $0.height) }
        let total = max(pixels.reduce(0, +), 1)
        let budget = Double(max(cores, 1)) * 1.5
        return pixels.map { max(1, Int(($0 / total * budget).rounded())) }
    }
}
