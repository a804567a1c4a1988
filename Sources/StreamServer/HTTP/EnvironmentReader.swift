import Foundation

/// Reads settings from the environment, refusing a malformed value instead of ignoring
/// it: `PORT=abc` stops `serve` at start with one line naming `PORT`. An unset or empty
/// variable is "not set" (nil), which keeps the default.
struct EnvironmentReader {
    let values: [String: String]

    init(_ values: [String: String]) { self.values = values }

    /// The trimmed value, nil when unset or empty.
    func string(_ name: String) -> String? {
        guard let raw = values[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { return nil }
        return raw
    }

    /// A whole number within `range`.
    func integer<T: FixedWidthInteger>(_ name: String, in range: ClosedRange<T>) throws(ConfigurationError) -> T? {
        guard let text = string(name) else { return nil }
        guard let value = T(text), range.contains(value) else {
            throw ConfigurationError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \(Self.quoted(text))")
        }
        return value
    }

    /// A finite decimal number within `range` (seconds, hours).
    func number(_ name: String, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
        guard let text = string(name) else { return nil }
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            throw ConfigurationError("\(name) must be a number from \(Self.plain(range.lowerBound)) to \(Self.plain(range.upperBound)), not \(Self.quoted(text))")
        }
        return value
    }

    /// true/false (also 1/0, yes/no, on/off).
    func bool(_ name: String) throws(ConfigurationError) -> Bool? {
        guard let text = string(name) else { return nil }
        guard let value = AccessConfiguration.bool(text) else {
            throw ConfigurationError("\(name) must be true or false, not \(Self.quoted(text))")
        }
        return value
    }

    /// A comma-separated list, empty items dropped.
    func list(_ name: String) -> [String] {
        (values[name] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// An absolute URL with one of `schemes`.
    func url(_ name: String, schemes: Set<String>) throws(ConfigurationError) -> URL? {
        guard let text = string(name) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme), url.host != nil else {
            throw ConfigurationError("\(name) must be a URL starting with \(schemes.sorted().map { "\($0)://" }.joined(separator: " or ")), not \(Self.quoted(text))")
        }
        return url
    }

    /// The value as the user wrote it, shortened: the message is one line.
    static func quoted(_ text: String) -> String {
        let clean = text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : String($0) }.joined()
        return "\"\(clean.prefix(60))\(clean.count > 60 ? "…" : "")\""
    }

    private static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
