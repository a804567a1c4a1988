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
    /// The newest videos that `query` selects.
    func videos(_ query: VideoQuery, limit: Int) async throws -> [VideoRecord]
    /// Renames the video, changes its visibility or the prefix of its HLS objects; these
    /// are the owner's, so a job's state change (`update`) never writes them.
    @discardableResult
    /// With `expected`, only while the video is still in that state.
    func updateSettings(_ id: UUID, title: String, visibility: Visibility, hlsPrefix: String,
                        expected: VideoLifecycle.Status?) async throws -> Bool
    /// The bytes `uploader` has in UPLOADING videos (the upload quota).
    func uploadingBytes(uploader: String) async throws -> Int64
    func videos(in status: VideoLifecycle.Status) async throws -> [VideoRecord]
    func delete(_ id: UUID) async throws
    /// Counts one more attempt at the video's transcode (persisted, so it survives a
    /// crash of the server); returns the new count.
    func recordAttempt(_ id: UUID) async throws -> Int
    /// Starts the count again (an operator requeued the video).
    func resetAttempts(_ id: UUID) async throws
    /// Takes back one counted attempt: the job was handed back at shutdown, unfinished
    /// through no fault of its own, so it must not use up the video's attempts.
    func forgetAttempt(_ id: UUID) async throws
    /// One round trip to the store (`/readyz`).
    func ping() async throws
    /// Takes the video's edit lease for `seconds`, unless another holder's has not expired
    /// (its holder takes it again to renew it); the store's clock decides, so the API nodes'
    /// clocks need not agree (`VideoEdits`).
    func takeEditLease(_ id: UUID, holder: String, seconds: Double) async throws -> EditLease
    /// Gives the lease back, if `holder` still has it.
    func releaseEditLease(_ id: UUID, holder: String) async throws
}

/// What asking for a video's edit lease found.
public enum EditLease: Sendable, Equatable {
    case taken
    case heldByAnother
    case noSuchVideo
}

/// Which videos a list shows.
public enum VideoQuery: Sendable, Equatable {
    /// Everything (an API key's list).
    case all
    /// The public list: public videos that are READY.
    case listed
    /// One owner's videos, in every state.
    case ownedBy(VideoOwner)
}

extension SQLiteStore: MetadataStore {}
