import ArgumentParser
import Foundation
import HLSEngine

@main
struct VStream: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vstream",
        abstract: "An FFmpeg-linked media engine: upload, transcode to an HLS ladder, stream.",
        subcommands: [TranscodeCommand.self, StitchCommand.self, ProbeCommand.self, BenchCommand.self, ServeCommand.self, WorkerCommand.self,
                      JobsCommand.self])

    static func main() async {
        // Before anything else starts a thread: a supervised transcoder confines itself.
        if SupervisedChild.isRequested(CommandLine.arguments) { SupervisedChild.isolate() }
        // Errors reach the user as one line of ours; libav's chatter stays out
        // unless asked for with VSTREAM_AV_LOG=warning|info|debug.
        let level = ProcessInfo.processInfo.environment["VSTREAM_AV_LOG"].flatMap { name in
            [("quiet", LibraryLog.Level.quiet), ("error", .error), ("warning", .warning), ("info", .info), ("debug", .debug)]
                .first { $0.0 == name }?.1
        }
        LibraryLog.setLevel(level ?? .quiet)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
