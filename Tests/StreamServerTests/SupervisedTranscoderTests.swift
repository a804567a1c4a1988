import ChildProcess
import Foundation
import HLSEngine
import Synchronization
import Testing
@testable import StreamServer

/// The supervised transcoder as the service runs it: a real `vstream transcode
/// --supervised` child, made to crash, hang or hoard memory by test failpoints (armed by
/// VSTREAM_FAILPOINT=transcoder *and* a marker at the start of the input).
@Suite("Supervised transcoder", .serialized)
struct SupervisedTranscoderTests {
    static let vstream = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("vstream").path

    static func marker(_ kind: String) throws -> String {
        setenv("VSTREAM_FAILPOINT", "transcoder", 1)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("failpoint-\(kind)-\(UUID().uuidString).mp4").path
        try (Data("#vstream-failpoint:\(kind)\n".utf8) + Data(count: 4096)).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func output() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("supervised-\(UUID().uuidString)").path
    }

    /// Runs `input` through a child and gives its failure. The input (a marker file) and
    /// whatever the child wrote are removed after.
    static func failure(_ limits: SupervisedTranscoder.Limits, input: String) async -> TranscoderMessage.Failure? {
        let out = output()
        defer {
            // Only a marker: a checkout under /tmp (a CI's clone) has its fixtures there too.
            if (input as NSString).lastPathComponent.hasPrefix("failpoint-") { try? FileManager.default.removeItem(atPath: input) }
            try? FileManager.default.removeItem(atPath: out)
        }
        do {
            _ = try await SupervisedTranscoder(limits: limits).run(input: input, output: out) { _ in }
            return nil
        } catch {
            return error as? TranscoderMessage.Failure
        }
    }

    @Test func aGoodFileTranscodesThroughTheChildWithItsProgress() async throws {
        let events = Mutex(0)
        let out = Self.output()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try await SupervisedTranscoder(limits: .init(executable: Self.vstream))
            .run(input: fixture("no_audio.mp4").path, output: out) { _ in events.withLock { $0 += 1 } }
        #expect(result.renditions.map(\.rendition.name) == ["360p"])
        #expect(FileManager.default.fileExists(atPath: out + "/master.m3u8"))
        #expect(events.withLock { $0 } > 1)
    }

    @Test func aBadFileIsRefusedWithTheEnginesReasonAndNoPath() async throws {
        let failure = try #require(await Self.failure(.init(executable: Self.vstream), input: fixture("audio_only.m4a").path))
        #expect(failure.isBadMedia && failure.userMessage == "no video stream (audio-only or data file)")
    }

    @Test func aCrashingChildFailsTheAttemptWithItsSignal() async throws {
        let failure = try #require(await Self.failure(.init(executable: Self.vstream), input: try Self.marker("crash")))
        #expect(failure.userMessage == "the transcoder crashed (signal 11)" && !failure.isBadMedia)
    }

    @Test func aHoardingChildRunsOutOfMemoryUnderItsLimit() async throws {
        var limits = SupervisedTranscoder.Limits(executable: Self.vstream)
        limits.memoryMiB = 768
        let failure = try #require(await Self.failure(limits, input: try Self.marker("memory")))
        #expect(failure.userMessage == "ran out of memory")
    }

    @Test func aHangingChildIsKilledAtItsDeadline() async throws {
        var limits = SupervisedTranscoder.Limits(executable: Self.vstream)
        limits.timeoutSeconds = 2
        let started = ContinuousClock.now
        let failure = try #require(await Self.failure(limits, input: try Self.marker("hang")))
        #expect(failure.userMessage.hasPrefix("the transcode took too long"))
        #expect(ContinuousClock.now - started < .seconds(6))
    }

    /// The child asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG), and Linux sends it
    /// when the parent *thread* that spawned it ends. The async pool's threads end after a
    /// few idle seconds (libdispatch reaps them), so a child spawned from one could be killed
    /// mid-run: the hostile-upload test once saw its hanging child end as "ran out of
    /// memory" (a SIGKILL nobody sent). Children are spawned from a thread that lives as long
    /// as the process (`SpawningThread`): here the thread that asks for one ends once the
    /// child has said hello, and the child lives on. Before, it was dead (137) at once.
    @Test func aChildOutlivesTheThreadThatAskedForIt() async throws {
        let spawned = Mutex<Result<PipedChild, any Error>?>(nil)
        let asker = Thread {
            let child = Result { try PipedChild.spawn([Self.vstream, "transcode", "in.mp4", "-o", Self.output(), "--supervised"],
                                                      environment: [:]) }
            // Its hello comes after it asked to die with its parent: only then may this end.
            if case .success(let running) = child {
                var byte: UInt8 = 0
                while read(running.output, &byte, 1) == 1 && byte != UInt8(ascii: "\n") {}
            }
            spawned.withLock { $0 = child }
        }
        asker.start()
        var child: PipedChild?
        for _ in 0..<100 where child == nil {
            try await Task.sleep(for: .milliseconds(20))
            child = try spawned.withLock { try $0?.get() }
        }
        let running = try #require(child)
        defer { close(running.output); close(running.errors) }
        // It waits for its request line; the thread that asked has long ended.
        try await Task.sleep(for: .milliseconds(1500))
        var status: Int32 = 0
        #expect(waitpid(running.process.pid, &status, WNOHANG) == 0, "the child is still running (status \(status))")
        close(running.input)  // a closed request pipe ends it
        #expect(running.process.wait(timeout: 10) != 137)
    }

    /// While it runs: its own network namespace (no interface to reach anything), no
    /// descriptor of ours beyond stdin/out/err, and the address-space limit in force.
    /// Cancelling kills it within a second.
    @Test func theChildIsConfinedAndCancellingKillsItWithinASecond() async throws {
        var limits = SupervisedTranscoder.Limits(executable: Self.vstream)
        limits.memoryMiB = 1024
        let pid = Mutex<Int32>(0)
        let input = try Self.marker("hang")
        let out = Self.output()
        defer {
            try? FileManager.default.removeItem(atPath: input)
            try? FileManager.default.removeItem(atPath: out)
        }
        // A descriptor of ours that a careless spawn would hand down: no close-on-exec.
        let sentinel = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: sentinel, contents: Data("ours".utf8))
        let held = open(sentinel, O_RDONLY)
        defer { close(held); try? FileManager.default.removeItem(atPath: sentinel) }
        #expect(held >= 0)
        let run = Task {
            try await SupervisedTranscoder(limits: limits).run(input: input, output: out,
                                                               onSpawn: { spawned in pid.withLock { $0 = spawned } }) { _ in }
        }
        try await Task.sleep(for: .milliseconds(1500))
        let child = pid.withLock { $0 }
        #expect(child > 0)
        let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/ns/net")
        #expect(ours != theirs, "the child shares our network namespace")
        // The child opens its own (its input, Dispatch's eventfd): none of them is ours.
        let targets = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child)/fd")
            .compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/fd/\($0)") }
        #expect(!targets.contains(sentinel), "the child inherited our descriptor: \(targets)")
        #expect(!targets.contains { $0.hasPrefix("socket:") }, "the child holds a socket: \(targets)")
        let limitsText = try String(contentsOfFile: "/proc/\(child)/limits", encoding: .utf8)
        #expect(limitsText.split(separator: "\n").contains { $0.hasPrefix("Max address space") && $0.contains("\(1024 << 20)") })

        let cancelled = ContinuousClock.now
        run.cancel()
        await #expect(throws: CancellationError.self) { try await run.value }
        #expect(ContinuousClock.now - cancelled < .seconds(1))
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(child)/status") ||
                ((try? String(contentsOfFile: "/proc/\(child)/status", encoding: .utf8)) ?? "").contains("zombie"))
    }

    /// A service and a transcoder of different releases. The child is a stand-in for
    /// another vstream: one that answers the request with another protocol's hello, and
    /// one so old it says no hello at all (and writes lines this service cannot read).
    /// Both used to end as "stopped unexpectedly (exit 0)"; the job now fails with a
    /// message that names the mismatch.
    @Test(arguments: [("another version", #"read request; echo '{"hello":{"protocol":1}}'; exec sleep 5"#, "version 1"),
                      ("no version", #"read request; echo '{"progress":{"percent":1}}'; echo '{"done":true}'"#, "no version")])
    func aChildOfAnotherProtocolVersionFailsTheJobWithAMessageNamingTheMismatch(_ kind: String, _ script: String, _ named: String) async throws {
        let stand = FileManager.default.temporaryDirectory.appendingPathComponent("other-vstream-\(UUID().uuidString).sh")
        try "#!/bin/sh\n\(script)\n".write(to: stand, atomically: true, encoding: .utf8)
        chmod(stand.path, 0o755)
        defer { try? FileManager.default.removeItem(at: stand) }
        let started = ContinuousClock.now
        let failure = try #require(await Self.failure(.init(executable: stand.path), input: fixture("no_audio.mp4").path), "\(kind)")
        #expect(failure.userMessage.contains("protocol mismatch"), "\(failure.userMessage)")
        #expect(failure.userMessage.contains("version \(TranscoderRequest.protocolVersion)") && failure.userMessage.contains(named))
        #expect(!failure.isBadMedia, "another release is not the file's fault")
        #expect(ContinuousClock.now - started < .seconds(2), "a mismatched hello is refused at once, not waited out")
    }

    /// A child gone wrong (the media it reads exploited it) that publishes a segment named
    /// out of the ladder, which a service would upload from its own host: the publication
    /// never reaches the service, and the attempt fails as unsupervisable, not as bad media.
    @Test(arguments: [PublishedSegment(rendition: "../../../etc", index: 0, uri: "passwd", duration: 2, bytes: 1),
                      PublishedSegment(rendition: "360p", index: 0, uri: "/etc/passwd", duration: 2, bytes: 1),
                      PublishedSegment(rendition: "360p", index: -1, uri: "segment_00000.m4s", duration: 2, bytes: 1),
                      PublishedSegment(rendition: "360p", index: 0, uri: "segment_00000.m4s", duration: -2, bytes: 1)])
    func aPublicationNamedOutOfTheLadderStopsTheChild(_ segment: PublishedSegment) async throws {
        let line = { (message: TranscoderMessage) in String(decoding: try JSONEncoder().encode(message), as: UTF8.self) }
        let script = "read request; echo '\(try line(.hello(protocol: TranscoderRequest.protocolVersion)))'; "
            + "echo '\(try line(.publication(.segment(segment))))'; exec sleep 5"
        let stand = FileManager.default.temporaryDirectory.appendingPathComponent("bad-child-\(UUID().uuidString).sh")
        try "#!/bin/sh\n\(script)\n".write(to: stand, atomically: true, encoding: .utf8)
        chmod(stand.path, 0o755)
        let out = Self.output()
        defer { try? FileManager.default.removeItem(at: stand); try? FileManager.default.removeItem(atPath: out) }
        let relayed = Mutex(0)
        let started = ContinuousClock.now
        do {
            _ = try await SupervisedTranscoder(limits: .init(executable: stand.path))
                .run(input: fixture("no_audio.mp4").path, output: out, onEvent: { _ in }, onPublication: { _ in relayed.withLock { $0 += 1 } })
            Issue.record("the attempt succeeded")
        } catch let failure as TranscoderMessage.Failure {
            #expect(failure.userMessage == "the transcoder could not be supervised" && !failure.isBadMedia, "\(failure)")
        }
        #expect(relayed.withLock { $0 } == 0, "the publication reached the service")
        #expect(ContinuousClock.now - started < .seconds(3), "refused at once, not waited out")
    }

    /// The other side of it: this release's child refuses a request of another version
    /// (an older service would send "go", a newer one another number) with the same words.
    @Test(arguments: ["go", #"{"protocol":1,"options":{}}"#, #"{"protocol":99}"#])
    func theChildRefusesARequestOfAnotherVersion(_ request: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("child-protocol-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("request").path
        try (request + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("out.jsonl").path
        let status = try ChildProcess.spawn([Self.vstream, "transcode", fixture("no_audio.mp4").path, "-o", directory.appendingPathComponent("hls").path,
                                             "--supervised"], stdin: input, stdout: output).wait(timeout: 30)
        #expect(status == 1)
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONDecoder().decode(TranscoderMessage.self, from: Data($0.utf8)) }
        #expect(lines.first == .hello(protocol: TranscoderRequest.protocolVersion))
        guard case .failure(let failure)? = lines.last else {
            Issue.record("no failure reported: \(lines)")
            return
        }
        #expect(failure.userMessage.contains("protocol mismatch"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("hls/master.m3u8").path))
    }
}
