import Foundation

/// The terminal view of a `BenchReport`.
public enum ReportTable {
    public static func render(_ report: BenchReport) -> String {
        var lines: [String] = []
        let input = report.input
        lines.append("input: \(input.path) (\(input.width)x\(input.height), \(input.frames) frames, "
                     + String(format: "%.1f s", input.durationSeconds) + ")")
        lines.append("host: \(report.host.cores) cores, \(report.host.ffmpegVersion); preset \(report.settings.preset), "
                     + "\(report.settings.runs) runs after \(report.settings.warmup) warm-up, order \(report.settings.order.joined(separator: " "))")
        lines.append("")
        let header = ["contender", "wall s (min-max)", "CPU s (min-max)", "peak RSS MiB", "fps", "CPU use", "engine/this wall", "CPU", "RSS"]
        var rows = [header]
        for contender in report.contenders {
            rows.append([
                contender.name,
                String(format: "%.2f (%.2f-%.2f)", contender.wallSeconds.median, contender.wallSeconds.min, contender.wallSeconds.max),
                String(format: "%.2f (%.2f-%.2f)", contender.cpuSeconds.median, contender.cpuSeconds.min, contender.cpuSeconds.max),
                String(format: "%.0f (%.0f-%.0f)", contender.peakRSSBytes.median / 1_048_576, contender.peakRSSBytes.min / 1_048_576,
                       contender.peakRSSBytes.max / 1_048_576),
                String(format: "%.1f", contender.framesPerSecond),
                String(format: "%.0f%%", contender.cpuUtilisation * 100),
                String(format: "%.3f", contender.engineRatio.wall.median),
                String(format: "%.3f", contender.engineRatio.cpu.median),
                String(format: "%.3f", contender.engineRatio.peakRSS.median),
            ])
        }
        lines += table(rows)
        if report.contenders.contains(where: { !$0.quality.isEmpty }) {
            lines.append("")
            var quality = [["contender", "rendition", "kbit/s", "PSNR dB", "SSIM"]]
            for contender in report.contenders {
                for measurement in contender.quality {
                    quality.append([contender.name, "\(measurement.rendition) \(measurement.width)x\(measurement.height)",
                                    String(measurement.bitrate / 1000), String(format: "%.3f", measurement.psnr),
                                    String(format: "%.5f", measurement.ssim)])
                }
            }
            lines += table(quality)
        }
        if let engine = report.contenders.first(where: { $0.name == "engine" }), let share = engine.firstSegmentShareOfWall {
            lines.append("")
            let seen = (engine.firstSegmentSeconds ?? [:]).sorted { $0.key < $1.key }
                .map { String(format: "%@ %.2f s", $0.key, $0.value) }.joined(separator: ", ")
            lines.append(String(format: "engine: every rendition's first segment complete by %.0f%% of wall time (%@)", share * 100, seen))
        }
        lines.append("")
        lines.append("commands:")
        for contender in report.contenders {
            for line in contender.commandLines { lines.append("  [\(contender.name)] \(line)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func table(_ rows: [[String]]) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
    }
}
