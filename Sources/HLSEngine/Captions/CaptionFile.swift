import Foundation

/// A sidecar caption file, SRT or WebVTT, read as an untrusted upload: at most 1 MiB,
/// UTF-8 (or UTF-16 with its byte-order mark), every cue's timing well formed, ending after
/// it starts, and starting no earlier than the cue before it. A file that breaks a rule is
/// refused with the line that breaks it. Styling is not kept: a cue is its text.
public struct CaptionFile: Sendable, Equatable, Codable {
    public struct Cue: Sendable, Equatable, Codable {
        /// Seconds from the start of the video.
        public var start: Double
        public var end: Double
        public var text: String

        public init(start: Double, end: Double, text: String) {
            self.start = start
            self.end = end
            self.text = text
        }
    }

    /// Why a file is refused; `line` counts from 1.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int?
        public var reason: String
        public var description: String { line.map { "line \($0): \(reason)" } ?? reason }

        public init(line: Int? = nil, reason: String) {
            self.line = line
            self.reason = reason
        }
    }

    public static let maxBytes = 1 << 20
    /// Cues past this are refused: a bound on what a file can make the segmenter write.
    public static let maxCues = 100_000
    /// A cue's text past this is refused (a sidecar) or cut (a source stream): a caption is
    /// a line or two, and a cue repeats in every segment it spans.
    public static let maxCueCharacters = 1_000

    public var cues: [Cue]

    public init(cues: [Cue]) { self.cues = cues }

    /// Parses `data`: WebVTT when it starts with `WEBVTT`, SRT otherwise.
    public init(data: Data) throws(Refusal) {
        guard data.count <= Self.maxBytes else { throw Refusal(reason: "the file is over 1 MiB") }
        let text = try Self.decode(data)
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let isWebVTT = lines.first.map { $0 == "WEBVTT" || $0.hasPrefix("WEBVTT ") || $0.hasPrefix("WEBVTT\t") } ?? false
        cues = try Self.cues(lines, webVTT: isWebVTT)
        // An empty file is a mistake (the wrong file, or an export that failed), not a
        // track a viewer should find in the menu with nothing in it.
        guard !cues.isEmpty else { throw Refusal(reason: "the file holds no cue") }
    }

    /// UTF-8 (a BOM is dropped), or UTF-16 with a BOM; nothing else.
    private static func decode(_ data: Data) throws(Refusal) -> String {
        let bytes = [UInt8](data)
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            guard let text = String(data: data, encoding: .utf16) else { throw Refusal(reason: "the file is not valid UTF-16") }
            return text
        }
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        // One pass: the text, or the line of the first byte that is not UTF-8.
        var decoder = UTF8()
        var iterator = body.makeIterator()
        var scalars = String.UnicodeScalarView()
        var line = 1
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" { line += 1 }
                scalars.append(scalar)
            case .emptyInput:
                break decoding
            case .error:
                throw Refusal(line: line, reason: "the file is not UTF-8 (nor UTF-16 with a byte-order mark)")
            }
        }
        let text = String(scalars)
        return text
    }

    private static func cues(_ lines: [String], webVTT: Bool) throws(Refusal) -> [Cue] {
        var cues: [Cue] = []
        var index = webVTT ? 1 : 0
        // The header block runs from WEBVTT to the first blank line: metadata such as
        // "Kind: captions" and "Language: en" (in the files YouTube gives), not a cue. A
        // sloppy file whose first cue follows without a blank line still has that cue.
        while webVTT, index < lines.count, !lines[index].trimmingCharacters(in: .whitespaces).isEmpty,
              !lines[index].contains("-->") { index += 1 }
        while index < lines.count {
            // A block: lines up to a blank one.
            let first = index
            while index < lines.count, !lines[index].trimmingCharacters(in: .whitespaces).isEmpty { index += 1 }
            let block = Array(lines[first..<index])
            index += 1
            guard !block.isEmpty else { continue }
            if webVTT, let head = block.first, Self.isNonCueBlock(head) { continue }
            // The timing is the first or (after an identifier or SRT's number) the second line.
            guard let timingOffset = block.prefix(2).firstIndex(where: { $0.contains("-->") }) else {
                throw Refusal(line: first + 1, reason: "a cue without a timing line (\"00:00:01,000 --> 00:00:02,000\")")
            }
            let lineNumber = first + timingOffset + 1
            let (start, end) = try timing(block[timingOffset], webVTT: webVTT, line: lineNumber)
            guard end > start else { throw Refusal(line: lineNumber, reason: "the cue ends before it starts") }
            if let previous = cues.last, start < previous.start {
                throw Refusal(line: lineNumber, reason: "the cue starts before the one above it: timings must be in order")
            }
            let text = block[(timingOffset + 1)...].map { webVTT ? Self.decodingReferences(Self.plainText($0, webVTT: true)) : Self.plainText($0) }
                .joined(separator: "\n")
            guard text.count <= maxCueCharacters else {
                throw Refusal(line: lineNumber, reason: "a cue of more than \(maxCueCharacters) characters")
            }
            cues.append(Cue(start: start, end: end, text: text))
            guard cues.count <= maxCues else { throw Refusal(line: lineNumber, reason: "more than \(maxCues) cues") }
        }
        return cues
    }

    /// A WebVTT block that is not a cue: a comment (`NOTE`, alone or before a space or tab),
    /// or a `STYLE` or `REGION` block (the word alone on its line, maybe with trailing blanks).
    private static func isNonCueBlock(_ head: String) -> Bool {
        let word = head.trimmingCharacters(in: .whitespaces)
        return word == "NOTE" || head.hasPrefix("NOTE ") || head.hasPrefix("NOTE\t") || word == "STYLE" || word == "REGION"
    }

    /// A WebVTT cue's character references as the characters they stand for ("&amp;" is
    /// "&"), once its markup is gone; `escaped` writes them back where the output needs it.
    /// Before, "Tom &amp; Jerry" was shown as "Tom &amp; Jerry". An unknown or malformed
    /// reference stays as written, as a browser shows it.
    static func decodingReferences(_ text: String) -> String {
        guard text.contains("&") else { return text }
        let named: [Substring: String] = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}",
                                          "lrm": "\u{200E}", "rlm": "\u{200F}"]
        var result = ""
        var rest = Substring(text)
        while let ampersand = rest.firstIndex(of: "&") {
            result += rest[..<ampersand]
            let afterAmpersand = rest.index(after: ampersand)
            guard let semicolon = rest[afterAmpersand...].prefix(10).firstIndex(of: ";") else {
                result += "&"
                rest = rest[afterAmpersand...]
                continue
            }
            let name = rest[afterAmpersand..<semicolon]
            if let character = named[name] ?? numericReference(name) {
                result += character
            } else {
                result += rest[ampersand...semicolon]
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }

    /// "#233" or "#xE9" as its character; nil for anything else (a control or no character).
    private static func numericReference(_ name: Substring) -> String? {
        guard name.hasPrefix("#") else { return nil }
        let digits = name.dropFirst()
        let value = digits.first == "x" || digits.first == "X" ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
        guard let value, value >= 0x20, let scalar = Unicode.Scalar(value) else { return nil }
        return String(Character(scalar))
    }

    /// `hh:mm:ss,mmm --> hh:mm:ss,mmm` (SRT) or `[hh:]mm:ss.mmm --> [hh:]mm:ss.mmm [settings]` (WebVTT).
    private static func timing(_ line: String, webVTT: Bool, line number: Int) throws(Refusal) -> (Double, Double) {
        let parts = line.components(separatedBy: "-->")
        guard parts.count == 2 else { throw Refusal(line: number, reason: "a timing line needs exactly one \"-->\"") }
        let endField = parts[1].trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
        guard let start = timestamp(parts[0].trimmingCharacters(in: .whitespaces), webVTT: webVTT),
              let end = timestamp(endField, webVTT: webVTT) else {
            throw Refusal(line: number, reason: webVTT ? "a timestamp is not [hh:]mm:ss.mmm" : "a timestamp is not hh:mm:ss,mmm")
        }
        return (start, end)
    }

    /// Seconds, or nil for a malformed or out-of-range timestamp.
    static func timestamp(_ text: String, webVTT: Bool) -> Double? {
        let normalized = webVTT ? text : text.replacingOccurrences(of: ",", with: ".")
        let clock = normalized.split(separator: ":", omittingEmptySubsequences: false)
        guard (webVTT ? 2...3 : 3...3).contains(clock.count), let last = clock.last else { return nil }
        let secondsParts = last.split(separator: ".", omittingEmptySubsequences: false)
        guard secondsParts.count == 2, secondsParts[1].count == 3, secondsParts.allSatisfy({ $0.allSatisfy(\.isASCII) }),
              let seconds = Int(secondsParts[0]), let milliseconds = Int(secondsParts[1]), secondsParts[0].count == 2,
              (0..<60).contains(seconds), (0..<1000).contains(milliseconds) else { return nil }
        let fields = clock.dropLast().map { Int($0) }
        guard fields.allSatisfy({ $0 != nil }) else { return nil }
        let numbers = fields.compactMap { $0 }
        let minutes = numbers.last ?? 0, hours = numbers.count == 2 ? numbers[0] : 0
        guard (0..<60).contains(minutes), (0...99).contains(hours) else { return nil }
        return Double(hours * 3600 + minutes * 60 + seconds) + Double(milliseconds) / 1000
    }

    /// A cue line without markup: tags (`<i>`, `<font color="red">`; in WebVTT also
    /// `<00:00:01.000>` and `<c.yellow>`) and ASS override blocks that SRT files carry
    /// (`{\an8}`); the platform renders plain text. What does not look like markup is text:
    /// "I <3 you" and "{sic}" keep their brackets (before, the line was cut at the "<").
    static func plainText(_ line: String, webVTT: Bool = false) -> String {
        var result = ""
        var rest = Substring(line)
        // A bracket with no closing one after it opens nothing: checked against the last
        // closing one, so a line of "<a<a<a…" is read once, not once per "<".
        let lastClose = (tag: line.lastIndex(of: ">"), override: line.lastIndex(of: "}"))
        while let character = rest.first {
            let next = rest.dropFirst().first
            let opensTag = character == "<" && next.map { $0.isLetter || $0 == "/" || (webVTT && $0.isNumber) } == true
                && lastClose.tag.map { rest.startIndex < $0 } == true
            let opensOverride = character == "{" && next == "\\" && lastClose.override.map { rest.startIndex < $0 } == true
            if opensTag || opensOverride, let close = rest.firstIndex(of: opensTag ? ">" : "}") {
                rest = rest[rest.index(after: close)...]
            } else {
                result.append(character)
                rest = rest.dropFirst()
            }
        }
        return result
    }

    /// The whole file as WebVTT.
    public var webVTT: String {
        "WEBVTT\n" + cues.map { "\n\(Self.vttTime($0.start)) --> \(Self.vttTime($0.end))\n\(Self.escaped($0.text))\n" }.joined()
    }

    /// `hh:mm:ss.mmm`.
    static func vttTime(_ seconds: Double) -> String {
        let milliseconds = Int((max(0, min(seconds, 359_999)) * 1000).rounded())
        return String(format: "%02d:%02d:%02d.%03d", milliseconds / 3_600_000, milliseconds / 60_000 % 60,
                      milliseconds / 1000 % 60, milliseconds % 1000)
    }

    /// Text safe inside a WebVTT cue: no markup, no line that would end the cue.
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "-->", with: "--&gt;")
            .split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.joined(separator: "\n")
    }
}
