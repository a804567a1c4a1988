import CSandbox
import Foundation
import HLSEngine

/// The child side of a supervised transcode (`vstream transcode … --supervised`), which
/// `SupervisedTranscoder` in the service starts for every job.
///
/// It confines itself before it reads a byte of the upload:
/// - `isolate()` runs first thing in `main`, while the process has one thread (a new
///   network namespace applies to the thread that enters it and to threads it starts
///   later): SIGKILL when the parent dies, no descriptors but stdin/out/err, no new
///   privileges, and no network at all where the kernel allows a namespace.
/// - It says which protocol it speaks (`hello`), then waits for the parent's request: one
///   JSON line (`TranscoderRequest`: the protocol version and the options), sent once its
///   address-space limit is set. Another version is refused with a failure that says so.
/// - It reports `TranscoderMessage` JSON lines on stdout; the last is the result or the
///   failure. Exit status: 0, 65 for bad media, 1 otherwise.
enum SupervisedChild {
    static func isRequested(_ arguments: [String]) -> Bool {
        arguments.count > 1 && arguments[1] == "transcode" && arguments.contains("--supervised")
    }

    /// The transcode reads its source through descriptor 3 (`RelayedByteSource`), and the
    /// loudness measurement through descriptor 4.
    static let relayFlag = "--relayed-source-size"

    /// Confines the process; says on stderr (the parent's log) what could not be done.
    static func isolate() {
        if vstream_die_with_parent() != 0 { exit(1) }
        // Only the relays' sockets, when the parent passed them, outlive this.
        _ = vstream_close_from(CommandLine.arguments.contains(relayFlag) ? 5 : 3)
        _ = vstream_no_new_privileges()
        let network = vstream_isolate_network()
        if network != 0 {
            FileHandle.standardError.write(Data("vstream: no network namespace (\(String(cString: strerror(-network)))); the transcoder keeps the host's network\n".utf8))
        }
    }

    /// Says hello, then blocks until the parent's request line; returns its options.
    /// A closed pipe ends the process; a request of another protocol version (or none)
    /// is refused with a failure naming the mismatch.
    static func awaitRequest() -> TranscodeOptions {
        report(.hello(protocol: TranscoderRequest.protocolVersion))
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(0, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
            if line.count > TranscoderRequest.maxBytes { break }
        }
        guard !line.isEmpty else { exit(1) }
        let sent = try? JSONDecoder().decode(VersionOnly.self, from: Data(line))
        guard let sent, sent.protocol == TranscoderRequest.protocolVersion,
              let request = try? JSONDecoder().decode(TranscoderRequest.self, from: Data(line)) else {
            let message = TranscoderRequest.mismatch(service: sent?.protocol, transcoder: TranscoderRequest.protocolVersion)
            report(.failure(.init(detail: message, userMessage: message, isBadMedia: false, isCancelled: false)))
            exit(1)
        }
        return request.options
    }

    /// The one field every version of the request has.
    private struct VersionOnly: Decodable { var `protocol`: Int }

    static func report(_ message: TranscoderMessage) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(message) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// Test hooks, armed only when `VSTREAM_FAILPOINT=transcoder` and the input itself
    /// starts with `#vstream-failpoint:crash|hang|memory`: a file that makes this child
    /// die by a signal, hang, or allocate without end, to prove the supervisor's paths.
    static func failpoint(_ source: (any ByteSource)?) {
        guard ProcessInfo.processInfo.environment["VSTREAM_FAILPOINT"] == "transcoder", let source else { return }
        var head = [UInt8](repeating: 0, count: 40)
        guard let count = try? head.withUnsafeMutableBytes({ bytes throws(TranscodeError.Reason) in try source.read(at: 0, into: bytes) }),
              let text = String(bytes: head[0..<count], encoding: .utf8),
              text.hasPrefix("#vstream-failpoint:") else { return }
        if text.hasPrefix("#vstream-failpoint:crash") {
            // A real fault: raise(SIGSEGV) is caught by Swift's backtracer, which returns.
            UnsafeMutablePointer<Int>(bitPattern: 0x10)?.pointee = 1
        }
        if text.hasPrefix("#vstream-failpoint:hang") { while true { sleep(60) } }
        if text.hasPrefix("#vstream-failpoint:memory") {
            var hoard: [UnsafeMutableRawPointer] = []
            while let block = malloc(64 << 20) { memset(block, 1, 64 << 20); hoard.append(block) }
            FileHandle.standardError.write(Data("vstream: cannot allocate memory\n".utf8))
            abort()
        }
    }

    /// Runs the transcode and exits. `source` is what it reads (for the failpoint).
    static func run(_ transcoder: Transcoder, source: (any ByteSource)?) async -> Never {
        failpoint(source)
        let reporter = Task {
            for await event in transcoder.events { report(.progress(event)) }
        }
        // Every segment, in order: the parent stores each one as it comes.
        let publisher = Task {
            for await publication in transcoder.publications { report(.publication(publication)) }
        }
        do {
            let result = try await transcoder.run()
            await reporter.value
            await publisher.value
            report(.result(result))
            exit(0)
        } catch let error as TranscodeError {
            await reporter.value
            await publisher.value
            report(.failure(.init(error)))
            exit(error.isBadMedia ? 65 : 1)
        } catch {
            report(.failure(.init(detail: "\(error)", userMessage: "the transcode failed", isBadMedia: false, isCancelled: false)))
            exit(1)
        }
    }
}
