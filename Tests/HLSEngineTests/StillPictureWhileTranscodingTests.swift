import Foundation
import Testing
@testable import HLSEngine

/// A still picture while it transcodes (a podcast's cover, a song's artwork). Its one frame's
/// segment used to close only once the whole sound was read and encoded, and until then the
/// early ladder held the sound back to that one segment: ten minutes of sound were playable
/// after 11.8 s here, an hour after more than a minute. Now the rungs end once the container's
/// frames are read and the sound has run `DecodeStage.stillPictureLeadSeconds` past them.
@Suite("A still picture while it transcodes")
struct StillPictureWhileTranscodingTests {
    @Test func aStillPictureIsPlayableBeforeMostOfItsSoundHasArrived() async throws {
        let folder = Fixtures.temporaryDirectory("still-early")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The moov first, as an upload that plays while it arrives has it.
        let still = try StillPictureTests.source(in: folder, seconds: 120)
        let source = folder + "/still-faststart.mp4"
        let remuxed = try Command.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", still, "-c", "copy", "-movflags", "+faststart", source])
        #expect(remuxed.status == 0, "\(remuxed.stderr)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: source)[.size] as? Int64)
        // Two fifths of the file: about 48 s of the 120 s of sound.
        let arriving = try ArrivingSource(path: source, available: size * 2 / 5)

        var options = TranscodeOptions()
        options.progressive = true
        options.dash = true
        options.rungs = [180]
        let output = folder + "/hls"
        let transcoder = Transcoder(source: arriving, name: source, output: output, options: options)
        let watcher = Task { () -> (seen: Set<String>, picture: String?, sound: String?) in
            var seen: Set<String> = []
            var playlists: (picture: String?, sound: String?)
            for await publication in transcoder.publications {
                let when = arriving.hasArrived ? "" : " while arriving"
                switch publication {
                case .playable: seen.insert("playable" + when)
                case .ended(let rendition): seen.insert("\(rendition) ended" + when)
                case .segment: break
                }
                // Once the picture's rung has ended and the video is playable, the sound's
                // playlist goes on past the picture's one segment: then the rest arrives.
                guard playlists.sound == nil, seen.contains(where: { $0.hasPrefix("playable") }), seen.contains(where: { $0.hasPrefix("180p ended") }),
                      let sound = ProgressiveTests.read("\(output)/audio/live.m3u8"), ProgressiveTests.Playlist(sound).segments.count > 1 else { continue }
                playlists = (ProgressiveTests.read("\(output)/180p/live.m3u8"), sound)
                seen.insert("sound past the picture" + when)
                arriving.arrive()
            }
            return (seen, playlists.picture, playlists.sound)
        }
        let result = try await transcoder.run()
        arriving.arrive()
        let (seen, picture, sound) = await watcher.value

        #expect(seen == ["playable while arriving", "180p ended while arriving", "sound past the picture while arriving"], "\(seen)")
        // The picture's playlist ends with its one segment; the sound's goes on without it.
        let rung = ProgressiveTests.Playlist(try #require(picture))
        #expect(rung.ended && rung.segments.count == 1, "\(picture ?? "")")
        let early = ProgressiveTests.Playlist(try #require(sound))
        #expect(!early.ended && early.isValidEvent, "\(sound ?? "")")
        // The finished ladder keeps the whole two minutes, and its EVENT playlists end on it.
        #expect(abs(result.durationSeconds - 120) < 0.1, "\(result.durationSeconds)")
        let ended = ProgressiveTests.Playlist(try #require(ProgressiveTests.read("\(output)/audio/live.m3u8")))
        #expect(ended.ended && ended.segments.count == 60 && early.segments.map(\.uri) == Array(ended.segments.map(\.uri).prefix(early.segments.count)))
        #expect(try StillPictureTests.lastAudioTime(output + "/master.m3u8") > 119)
        #expect(result.notes?.contains { $0.contains("left out") } != true, "\(result.notes ?? [])")
    }

    /// Matroska counts no frames, so the probe counts the video's packets, reading the file
    /// to its end before the transcode starts: that count ends the picture's rungs as an MP4's
    /// sample table does, once the sound has run 10 s past it, not after all of it.
    @Test func aMatroskaStillPictureEndsItsRungsOnItsCountedFrames() async throws {
        let folder = Fixtures.temporaryDirectory("still-mkv")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try StillPictureTests.source(in: folder, seconds: 120, container: "mkv")
        var options = TranscodeOptions()
        options.progressive = true
        options.dash = true
        options.rungs = [180]
        let output = folder + "/hls"
        let transcoder = Transcoder(input: source, output: output, options: options)
        // How many of the sound's segments were out when the picture's rung ended.
        let soundBeforeTheEnd = Task { () -> Int? in
            var sound = 0
            for await publication in transcoder.publications {
                switch publication {
                case .segment(let segment) where segment.rendition == "audio": sound += 1
                case .ended("180p"): return sound
                default: break
                }
            }
            return nil
        }
        let result = try await transcoder.run()
        let sound = try #require(await soundBeforeTheEnd.value, "the picture's rung never ended early")
        #expect(sound < 10, "\(sound) of the sound's 60 segments were out before the picture's rung ended")
        let picture = ProgressiveTests.Playlist(try #require(ProgressiveTests.read("\(output)/180p/live.m3u8")))
        #expect(picture.ended && picture.segments.count == 1)
        #expect(abs(result.durationSeconds - 120) < 0.1, "\(result.durationSeconds)")
        #expect(try StillPictureTests.lastAudioTime(output + "/master.m3u8") > 119)
        #expect(result.notes?.contains { $0.contains("left out") } != true, "\(result.notes ?? [])")
    }

    /// A normal video never ends its rungs early: its sound stops with its picture.
    @Test func aVideoWithSoundToItsEndEndsNoRenditionEarly() async throws {
        let folder = Fixtures.temporaryDirectory("still-not")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var options = TranscodeOptions()
        options.progressive = true
        options.dash = true
        options.rungs = [144]
        let transcoder = Transcoder(input: Fixtures.path("tiny_256x144.mp4"), output: folder + "/hls", options: options)
        let ended = Task { var ended: [String] = []; for await case .ended(let name) in transcoder.publications { ended.append(name) }; return ended }
        _ = try await transcoder.run()
        #expect(await ended.value.isEmpty)
    }
}

/// A source whose bytes past `available` arrive only once `arrive()` is called, as an upload
/// that is still arriving: a read there waits (at most 120 s, then fails the run, so an
/// engine that needed them fails the test rather than hanging it).
final class ArrivingSource: ByteSource, @unchecked Sendable {
    // @unchecked: `arrived` is guarded by `gate`'s condition.
    private let file: FileByteSource
    private let available: Int64
    private let gate = NSCondition()
    private var arrived = false

    init(path: String, available: Int64) throws {
        file = try FileByteSource(path: path)
        self.available = available
    }

    var hasArrived: Bool {
        gate.lock()
        defer { gate.unlock() }
        return arrived
    }

    func arrive() {
        gate.lock()
        arrived = true
        gate.broadcast()
        gate.unlock()
    }

    var size: Int64? { file.size }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
        if offset < available, offset + Int64(buffer.count) > available, !hasArrived {
            // What has arrived, as a socket gives what it has.
            return try file.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(Int(available - offset))))
        }
        if offset >= available {
            gate.lock()
            let deadline = Date().addingTimeInterval(120)
            while !arrived, gate.wait(until: deadline) {}
            let came = arrived
            gate.unlock()
            guard came else { throw .io("the rest of the source never arrived") }
        }
        return try file.read(at: offset, into: buffer)
    }
}
