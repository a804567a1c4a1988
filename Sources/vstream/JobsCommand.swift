import ArgumentParser
import Foundation
import StreamServer

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "The Redis job queue: its counts and the dead-letter list (env REDIS_URL, DATABASE_URL).",
        subcommands: [List.self, Requeue.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue counts, and the jobs that ran out of attempts.")

        func run() async throws {
            let queue = try JobsCommand.queue()
            try await queue.prepare()
            let stats = try await queue.stats()
            print("waiting \(stats.waiting)  pending \(stats.pending)  delayed \(stats.delayed)  dead \(stats.dead)")
            for job in try await queue.deadJobs() {
                print("\(job.entryID)  \(job.video.uuidString.lowercased())  attempts \(job.attempts)  \(job.failedAt)  \(job.error)")
            }
        }
    }

    struct Requeue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put dead jobs back on the queue: their videos go back to PROCESSING, attempts start again.")

        @Argument(help: "Video ids (or dead-letter entry ids).") var ids: [String] = []
        @Flag(help: "Every dead job.") var all = false

        func validate() throws {
            guard all || !ids.isEmpty else { throw ValidationError("name the videos to requeue, or pass --all") }
        }

        func run() async throws {
            let queue = try JobsCommand.queue()
            // Only what a requeue uses: the queue and the metadata store.
            let store = try ServerState.metadataStore(try ServerConfiguration.fromEnvironment())
            let wanted = Set(ids.map { $0.lowercased() })
            var count = 0
            for job in try await queue.deadJobs(limit: 10_000)
            where all || wanted.contains(job.entryID) || wanted.contains(job.video.uuidString.lowercased()) {
                guard try await VideoRequeue(store: store, queue: queue).requeue(job) else { continue }
                count += 1
                print("requeued \(job.video.uuidString.lowercased())")
            }
            print("\(count) job(s) requeued")
        }
    }

    static func queue() throws -> RedisJobQueue {
        guard let url = ProcessInfo.processInfo.environment["REDIS_URL"], !url.isEmpty else {
            throw ValidationError("the job queue is on Redis: set REDIS_URL")
        }
        return RedisJobQueue(url: url)
    }
}
