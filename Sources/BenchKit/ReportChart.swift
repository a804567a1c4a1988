import Foundation

/// An SVG bar chart of a `BenchReport` a person can read at a glance: wall and CPU seconds
/// per contender side by side, and peak memory, each bar labelled with its value.
public enum ReportChart {
    public static func svg(_ report: BenchReport) -> String {
        let contenders = report.contenders
        let width = 760.0, rowHeight = 22.0, labelWidth = 170.0, barSpace = width - labelWidth - 90
        var y = 40.0
        var body: [String] = []
        let colors = ["wall": "#2b6cb0", "cpu": "#dd6b20", "rss": "#2f855a"]

        func section(_ title: String, unit: String, series: [(key: String, label: String, value: (BenchReport.ContenderResult) -> Double)]) {
            body.append(text(x: 10, y: y, title, size: 15, bold: true))
            y += 12
            let maximum = max(contenders.flatMap { contender in series.map { $0.value(contender) } }.max() ?? 1, 1e-9)
            for contender in contenders {
                body.append(text(x: 10, y: y + rowHeight * Double(series.count) / 2 + 4, contender.name, size: 13))
                for item in series {
                    let value = item.value(contender)
                    let length = max(1, barSpace * value / maximum)
                    body.append("<rect x=\"\(labelWidth)\" y=\"\(y + 2)\" width=\"\(f(length))\" height=\"\(rowHeight - 4)\" fill=\"\(colors[item.key] ?? "#555")\"/>")
                    body.append(text(x: labelWidth + length + 6, y: y + rowHeight - 7, String(format: "%.2f %@ %@", value, unit, item.label), size: 12))
                    y += rowHeight
                }
                y += 6
            }
            y += 20
        }

        section("Time per run (median, lower is better)", unit: "s", series: [
            ("wall", "wall", { $0.wallSeconds.median }),
            ("cpu", "CPU", { $0.cpuSeconds.median }),
        ])
        section("Peak memory (median, lower is better)", unit: "MiB", series: [
            ("rss", "RSS", { $0.peakRSSBytes.median / 1_048_576 }),
        ])
        let input = report.input
        let subtitle = "\(input.width)x\(input.height), \(input.frames) frames, preset \(report.settings.preset), "
            + "\(report.host.cores) cores, \(report.settings.runs) runs"
        let height = y + 10
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            \(text(x: 10, y: 20, "vstream bench: \(subtitle)", size: 14, bold: true))
            \(body.joined(separator: "\n"))
            </svg>

            """
    }

    private static func text(x: Double, y: Double, _ content: String, size: Int, bold: Bool = false) -> String {
        let escaped = content.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        return "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\"\(bold ? " font-weight=\"bold\"" : "")>\(escaped)</text>"
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
