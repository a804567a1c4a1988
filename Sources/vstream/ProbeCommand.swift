import ArgumentParser
import Foundation
import HLSEngine

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Show a media file's streams, displayed size and exact frame count.")

    @Argument(help: "A media file.") var input: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let info: MediaInfo
        do {
            info = try MediaProbe.probe(input)
        } catch {
            Terminal.fail(error)
        }
        if json {
            print(try JSON.encode(info))
            return
        }
        let video = info.video
        print("\(info.path): \(info.format), \(String(format: "%.3f", info.durationSeconds)) s, \(info.sizeBytes) bytes")
        print("  video: \(video.codec)\(video.profile.map { " (\($0))" } ?? ""), \(video.pixelFormat), coded \(video.geometry.codedWidth)x\(video.geometry.codedHeight), "
              + "SAR \(video.geometry.sampleAspectNum):\(video.geometry.sampleAspectDen), rotation \(video.geometry.rotation), "
              + "displayed \(video.displayWidth)x\(video.displayHeight)")
        print("         \(String(format: "%.3f", video.frameRate)) fps\(video.isVariableFrameRate ? " (variable)" : ""), "
              + "\(video.frameCount) frames (\(video.frameCountSource))")
        if let audio = info.audio {
            print("  audio: \(audio.codec), \(audio.sampleRate) Hz, \(audio.channels) channels (\(audio.channelLayout))")
        } else {
            print("  audio: none")
        }
        for track in info.tracks {
            var words = [track.kind.rawValue, "#\(track.streamIndex)", track.codec, track.language]
            if let channels = track.channels { words.append("\(channels) channels") }
            if track.isText == false { words.append("bitmap") }
            if track.isDefault { words.append("default") }
            if track.isForced { words.append("forced") }
            if track.isHearingImpaired { words.append("hearing impaired") }
            if track.isVisualImpaired { words.append(track.kind == .audio ? "audio description" : "visually impaired") }
            print("  track: " + words.joined(separator: ", ") + (track.title.map { " \"\($0)\"" } ?? ""))
        }
    }
}

enum JSON {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func line(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

enum Terminal {
    /// One line on stderr naming the input, then a non-zero exit.
    static func fail(_ error: Error) -> Never {
        FileHandle.standardError.write(Data("vstream: \(error)\n".utf8))
        let code: Int32 = (error as? TranscodeError)?.isBadMedia == true ? 65 : 1  // 65: EX_DATAERR
        exit(code)
    }

    /// Writes a line to stdout unbuffered, so a pipe reader sees each event as it happens.
    static func printLine(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

    /// What the engine left out of the source, on stderr (stdout stays the result).
    static func note(_ text: String) { FileHandle.standardError.write(Data("vstream: note: \(text)\n".utf8)) }

    static var isInteractive: Bool { isatty(STDERR_FILENO) != 0 }
}
