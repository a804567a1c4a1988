import Foundation

/// Measures one rendition against the source scaled to the rendition's size, with the
/// ffmpeg CLI's psnr and ssim filters (measurement, not transcoding), and its real bit rate.
public enum QualityMeter {
    public struct Measurement: Sendable, Codable, Equatable {
        public var rendition: String
        public var width: Int
        public var height: Int
        /// Bits per second over the source's duration, every media file of the variant counted.
        public var bitrate: Int
        public var psnr: Double
        public var ssim: Double
    }

    public static func measure(rendition name: String, width: Int, height: Int, playlist: String,
                               source: String, durationSeconds: Double) throws -> Measurement {
        let folder = (playlist as NSString).deletingLastPathComponent
        let bytes = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".m4s") || $0.hasSuffix(".mp4") || $0.hasSuffix(".ts") }
            .reduce(0) { total, file in
                total + ((try? FileManager.default.attributesOfItem(atPath: folder + "/" + file)[.size] as? Int) ?? 0)
            }
        // Both pictures start at t=0 whatever each muxer did with its start offset.
        let graph = "[0:v]setpts=PTS-STARTPTS,split[d1][d2];"
            + "[1:v]scale=\(width):\(height):flags=bicubic,setpts=PTS-STARTPTS,split[r1][r2];"
            + "[d1][r1]psnr;[d2][r2]ssim"
        let arguments = ["ffmpeg", "-nostdin", "-hide_banner", "-i", playlist, "-i", source,
                         "-lavfi", graph, "-f", "null", "-"]
        let stderr = try capture(arguments)
        guard let psnr = number(after: "average:", in: stderr, line: "PSNR"),
              let ssim = number(after: "All:", in: stderr, line: "SSIM")
        else { throw MeasuredProcess.Failure(command: arguments, status: -1, stderr: String(stderr.suffix(500))) }
        return Measurement(rendition: name, width: width, height: height,
                           bitrate: Int(Double(bytes * 8) / max(durationSeconds, 0.001)), psnr: psnr, ssim: ssim)
    }

    static func number(after key: String, in text: String, line marker: String) -> Double? {
        guard let line = text.split(separator: "\n").last(where: { $0.contains(marker) && $0.contains(key) }),
              let range = line.range(of: key) else { return nil }
        return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    /// Runs a command and returns its stderr.
    static func capture(_ arguments: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("quality-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pid = try MeasuredProcess.spawn(arguments, stderr: path)
        let status = MeasuredProcess.wait(pid)
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard status == 0 else { throw MeasuredProcess.Failure(command: arguments, status: status, stderr: text) }
        return text
    }
}
