import Foundation

/// The stable metadata of videos: PostgreSQL in production, SQLite in the embedded
/// default, with the same schema. Written only at state changes.
public protocol MetadataStore: Sendable {
    func insert(_ video: VideoRecord) async throws
    /// Writes a state change; with `expected`, only if the row is still in that state.
    @discardableResult
    func update(_ video: VideoRecord, expected: VideoLifecycle.Status?) async throws -> Bool
    func video(_ id: UUID) async throws -> VideoRecord?
    func videos(limit: Int) async throws -> [VideoRecord]
    func videos(in status: VideoLifecycle.Status) async throws -> [VideoRecord]
    func delete(_ id: UUID) async throws
    /// Counts one more attempt at the video's transcode (persisted, so it survives a
    /// crash of the server); returns the new count.
    func recordAttempt(_ id: UUID) async throws -> Int
    /// Starts the count again (an operator requeued the video).
    func resetAttempts(_ id: UUID) async throws
}

extension SQLiteStore: MetadataStore {}
