import Foundation
import Testing
@testable import StreamServer

/// The owner's changes to a READY video's stored files (captions, a move to private, the
/// deletion), made at once through two API nodes behind one load balancer: each change keeps
/// every other, and nothing is left behind.
extension SeaweedFSTests {
@Suite("Video edits across API nodes", .serialized, .timeLimit(.minutes(3)))
struct VideoEditTests {
    static let srt = "1\n00:00:00,500 --> 00:00:01,500\nHello\n"

    /// An owner's script adds captions in six languages at once, three through each node.
    /// Every track is in the master a player opens, in the MPD and in the row.
    @Test func captionsAddedAtOnceThroughTwoNodesAreAllKept() async throws {
        let (cluster, nodes, id) = try await Self.readyVideoBehindTwoNodes()
        defer { cluster.stop() }

        let languages = ["eng", "fra", "deu", "spa", "ita", "por"]
        let statuses = try await withThrowingTaskGroup(of: (String, Int, String).self) { group in
            for (index, language) in languages.enumerated() {
                let url = nodes[index % 2].url("/api/videos/\(id.uuidString.lowercased())/captions?language=\(language)&format=srt")
                group.addTask {
                    let response = try await Self.send("POST", url, body: Self.srt)
                    return (language, response.status, String(decoding: response.body, as: UTF8.self))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (language, status, body) in statuses { #expect(status == 201, "\(language): \(body)") }

        let master = String(decoding: try await cluster.storage.data(key: "\(Cluster.prefix(id))/master.m3u8") ?? Data(), as: UTF8.self)
        let listed = Set(master.split(separator: "\n").filter { $0.contains("TYPE=SUBTITLES") }.compactMap { line in
            line.firstRange(of: "LANGUAGE=\"").map { String(line[$0.upperBound...].prefix(3)) }
        })
        #expect(listed == Set(languages), "\(master)")
        let manifest = String(decoding: try await cluster.storage.data(key: "\(Cluster.prefix(id))/manifest.mpd") ?? Data(), as: UTF8.self)
        for language in languages { #expect(manifest.contains("lang=\"\(language)\""), "\(language) in the MPD") }
        let row = try #require(try await cluster.store.video(id))
        #expect(Set((row.outputs?.captions ?? []).map(\.language)) == Set(languages))
        let objects = try await cluster.objects(under: "\(Cluster.prefix(id))/captions")
        for language in languages { #expect(objects.contains { $0.hasSuffix("captions/\(language).vtt") }, "\(language).vtt stored") }
    }

    /// The owner makes the video private through one node while a script adds captions
    /// through the other; then deletes it while another caption arrives. The captions end
    /// in the master at the private prefix, and the deletion leaves no object behind.
    @Test func aMoveToPrivateAndADeletionBesideCaptionChangesLoseNothingAndLeaveNothing() async throws {
        let (cluster, nodes, id) = try await Self.readyVideoBehindTwoNodes()
        defer { cluster.stop() }
        let video = nodes[0].url("/api/videos/\(id.uuidString.lowercased())")
        let captions = nodes[1].url("/api/videos/\(id.uuidString.lowercased())/captions?format=srt&language=")

        async let moved = Self.send("PATCH", video, body: #"{"visibility":"private"}"#, type: "application/json")
        async let added = Self.send("POST", captions + "eng", body: Self.srt)
        let (move, add) = try await (moved, added)
        #expect(move.status == 200, "\(String(decoding: move.body, as: UTF8.self))")
        #expect(add.status == 201, "\(String(decoding: add.body, as: UTF8.self))")
        let row = try #require(try await cluster.store.video(id))
        #expect(row.visibility == .private && row.hlsPrefix == "private/\(Cluster.prefix(id))")
        #expect(row.outputs?.captions?.map(\.language) == ["eng"])
        let master = String(decoding: try await cluster.storage.data(key: "\(row.hlsPrefix)/master.m3u8") ?? Data(), as: UTF8.self)
        #expect(master.contains("TYPE=SUBTITLES") && master.contains("LANGUAGE=\"eng\""), "\(master)")
        #expect(try await cluster.objects(under: Cluster.prefix(id)).isEmpty, "nothing left at the public prefix")

        async let deleted = Self.send("DELETE", video, body: "")
        async let late = Self.send("POST", captions + "fra", body: Self.srt)
        let (deletion, lateAdd) = try await (deleted, late)
        #expect(deletion.status == 204)
        // The caption came first (201) or found the video gone (404).
        #expect([201, 404].contains(lateAdd.status), "\(lateAdd.status) \(String(decoding: lateAdd.body, as: UTF8.self))")
        #expect(try await cluster.store.video(id) == nil)
        #expect(try await cluster.objects(under: row.hlsPrefix).isEmpty, "nothing left at the private prefix")
        #expect(try await cluster.objects(under: Cluster.prefix(id)).isEmpty, "nothing left at the public prefix")
    }

    /// A READY video in a cluster with two API nodes (the first also a worker).
    static func readyVideoBehindTwoNodes() async throws -> (Cluster, [Cluster.Node], UUID) {
        let cluster = try await Cluster()
        do {
            let nodes = [try await cluster.startAPI("api-a", worker: true), try await cluster.startAPI("api-b")]
            let id = try await cluster.submit("tiny_256x144.mp4")
            let video = try await cluster.waitForFinal(id)
            try #require(video.status == .ready, "\(video.error ?? "")")
            return (cluster, nodes, id)
        } catch {
            cluster.stop()
            throw error
        }
    }

    /// The operator's key, and libcurl on a thread of its own (it blocks).
    static func send(_ method: String, _ url: String, body: String,
                     type: String = "application/x-subrip") async throws -> HTTPTransfer.Response {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    try HTTPTransfer.perform(method: method, url: url,
                                             headers: ["authorization": "Bearer \(Cluster.operatorKey)",
                                                       "content-type": type],
                                             body: body.isEmpty ? .none : .data(Data(body.utf8)), timeout: 60)
                })
            }.start()
        }
    }
}
}
