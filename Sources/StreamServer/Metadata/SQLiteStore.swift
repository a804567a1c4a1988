import CSQLite
import Foundation

/// The embedded default's metadata store: SQLite in the data directory, with the same
/// schema as PostgreSQL. One connection, used on its own `BlockingLane` only, so a slow
/// disk blocks that lane's thread and never the cooperative pool.
public final class SQLiteStore: Sendable {
    private let database: SQLiteConnection
    private let lane: BlockingLane

    public init(path: String, timeoutSeconds: Double = 5) throws {
        database = try SQLiteConnection(path: path)
        lane = BlockingLane("SQLite", timeoutSeconds: timeoutSeconds)
        try Self.migrate(database)
    }

    /// One round trip (`/readyz`).
    public func ping() async throws {
        try await lane.run { [database] in _ = try database.query("SELECT 1", []) }
    }

    /// Takes back the attempt counted for a job handed back at shutdown (never below 0).
    public func forgetAttempt(_ id: UUID) async throws {
        try await lane.run { [database] in
            try database.run("UPDATE videos SET attempts = MAX(attempts - 1, 0) WHERE id = ?", [.text(id.uuidString)])
        }
    }

    /// Each migration runs once, inside a transaction, and is recorded; running them
    /// again (every start-up) changes nothing.
    static let migrations: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE videos (
                id TEXT PRIMARY KEY,
                title TEXT NOT NULL,
                original_filename TEXT NOT NULL,
                size INTEGER NOT NULL,
                content_type TEXT NOT NULL,
                last_modified INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('UPLOADING', 'PROCESSING', 'READY', 'FAILED')),
                upload_id TEXT,
                source_key TEXT NOT NULL,
                hls_prefix TEXT NOT NULL,
                part_count INTEGER NOT NULL,
                duration REAL,
                width INTEGER,
                height INTEGER,
                renditions TEXT,
                error TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            );
            CREATE INDEX videos_created_at ON videos (created_at);
            """),
        // Attempts at the transcode, counted when each starts: a file that kills its
        // transcoder (or the server) ends FAILED after the limit, across restarts.
        (2, "ALTER TABLE videos ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0"),
        // Access control: who owns a video, who sees it, whose quota it counts against.
        // Videos from before were listed for everyone, so they stay public; new rows
        // always name their visibility (unlisted unless asked).
        (3, """
            ALTER TABLE videos ADD COLUMN owner TEXT;
            ALTER TABLE videos ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
                CHECK (visibility IN ('public', 'unlisted', 'private'));
            ALTER TABLE videos ADD COLUMN uploader TEXT;
            CREATE INDEX videos_owner ON videos (owner);
            CREATE INDEX videos_uploader_status ON videos (uploader, status);
            """),
        // What a READY video has besides its ladder (the storyboard), as JSON.
        (4, "ALTER TABLE videos ADD COLUMN outputs TEXT"),
        // Who is changing the video's stored files (captions, a move of privacy), and until
        // when: one change at a time, across every API node (`VideoEdits`).
        (5, """
            ALTER TABLE videos ADD COLUMN edit_lease TEXT;
            ALTER TABLE videos ADD COLUMN edit_lease_until REAL
            """),
    ]

    static func migrate(_ database: SQLiteConnection) throws {
        try database.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
        let applied = Set(try database.query("SELECT version FROM schema_migrations").compactMap { $0[0].integer })
        for migration in migrations where !applied.contains(Int64(migration.version)) {
            try database.execute("BEGIN")
            do {
                try database.execute(migration.sql)
                try database.run("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                                 [.integer(Int64(migration.version)), .real(Date().timeIntervalSince1970)])
                try database.execute("COMMIT")
            } catch {
                try? database.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func insert(_ video: VideoRecord) async throws {
        try await lane.run { [database] in
            try database.run("""
                INSERT INTO videos (id, title, original_filename, size, content_type, last_modified, status, upload_id,
                    source_key, hls_prefix, part_count, duration, width, height, renditions, error, created_at, updated_at,
                    owner, visibility, uploader, outputs)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, Self.values(video))
        }
    }

    /// Writes a state change (and what came with it). `expected` makes it conditional:
    /// the row changes only if it is still in that state; returns whether it did.
    @discardableResult
    public func update(_ video: VideoRecord, expected: VideoLifecycle.Status? = nil) async throws -> Bool {
        try await lane.run { [database] in
            var sql = """
                UPDATE videos SET status = ?, upload_id = ?, duration = ?, width = ?, height = ?, renditions = ?,
                    error = ?, outputs = ?, updated_at = ? WHERE id = ?
                """
            var values: [SQLiteValue] = [.text(video.status.rawValue), .optionalText(video.uploadID),
                                         .optionalReal(video.durationSeconds), .optionalInteger(video.width.map(Int64.init)),
                                         .optionalInteger(video.height.map(Int64.init)), .optionalText(RenditionSummary.json(video.renditions)),
                                         .optionalText(video.error), .optionalText(video.outputs?.json), .real(Date().timeIntervalSince1970), .text(video.id.uuidString)]
            if let expected {
                sql += " AND status = ?"
                values.append(.text(expected.rawValue))
            }
            try database.run(sql, values)
            return database.changes > 0
        }
    }

    public func video(_ id: UUID) async throws -> VideoRecord? {
        try await lane.run { [database] in
            try database.query("SELECT * FROM videos WHERE id = ?", [.text(id.uuidString)]).first.map(Self.record)
        }
    }

    public func videos(limit: Int = 100) async throws -> [VideoRecord] {
        try await lane.run { [database] in
            try database.query("SELECT * FROM videos ORDER BY created_at DESC LIMIT ?", [.integer(Int64(limit))]).map(Self.record)
        }
    }

    public func videos(_ query: VideoQuery, limit: Int) async throws -> [VideoRecord] {
        try await lane.run { [database] in
            let (condition, values): (String, [SQLiteValue]) = switch query {
            case .all: ("1", [])
            case .listed: ("visibility = 'public' AND status = 'READY'", [])
            case .ownedBy(let owner): ("owner = ?", [.text(owner.stored)])
            }
            return try database.query("SELECT * FROM videos WHERE \(condition) ORDER BY created_at DESC LIMIT ?",
                                      values + [.integer(Int64(limit))]).map(Self.record)
        }
    }

    @discardableResult
    public func updateSettings(_ id: UUID, title: String, visibility: Visibility, hlsPrefix: String,
                               expected: VideoLifecycle.Status?) async throws -> Bool {
        try await lane.run { [database] in
            try database.run("UPDATE videos SET title = ?, visibility = ?, hls_prefix = ?, updated_at = ? WHERE id = ? AND (? IS NULL OR status = ?)",
                             [.text(title), .text(visibility.rawValue), .text(hlsPrefix), .real(Date().timeIntervalSince1970),
                              .text(id.uuidString), .optionalText(expected?.rawValue), .optionalText(expected?.rawValue)])
            return database.changes > 0
        }
    }

    public func uploadingBytes(uploader: String) async throws -> Int64 {
        try await lane.run { [database] in
            try database.query("SELECT COALESCE(SUM(size), 0) FROM videos WHERE uploader = ? AND status = 'UPLOADING'",
                               [.text(uploader)]).first?[0].integer ?? 0
        }
    }

    public func takeEditLease(_ id: UUID, holder: String, seconds: Double) async throws -> EditLease {
        try await lane.run { [database] in
            let now = Date().timeIntervalSince1970
            try database.run("""
                UPDATE videos SET edit_lease = ?, edit_lease_until = ?
                WHERE id = ? AND (edit_lease IS NULL OR edit_lease_until < ? OR edit_lease = ?)
                """, [.text(holder), .real(now + seconds), .text(id.uuidString), .real(now), .text(holder)])
            if database.changes > 0 { return .taken }
            let exists = try database.query("SELECT 1 FROM videos WHERE id = ?", [.text(id.uuidString)])
            return exists.isEmpty ? .noSuchVideo : .heldByAnother
        }
    }

    public func releaseEditLease(_ id: UUID, holder: String) async throws {
        try await lane.run { [database] in
            try database.run("UPDATE videos SET edit_lease = NULL, edit_lease_until = NULL WHERE id = ? AND edit_lease = ?",
                             [.text(id.uuidString), .text(holder)])
        }
    }

    /// Counts one more attempt at the video's transcode; returns the new count (0: no row).
    public func recordAttempt(_ id: UUID) async throws -> Int {
        try await lane.run { [database] in
            let rows = try database.query("UPDATE videos SET attempts = attempts + 1 WHERE id = ? RETURNING attempts",
                                          [.text(id.uuidString)])
            return Int(rows.first?[0].integer ?? 0)
        }
    }

    public func resetAttempts(_ id: UUID) async throws {
        try await lane.run { [database] in
            try database.run("UPDATE videos SET attempts = 0 WHERE id = ?", [.text(id.uuidString)])
        }
    }

    public func delete(_ id: UUID) async throws {
        try await lane.run { [database] in
            try database.run("DELETE FROM videos WHERE id = ?", [.text(id.uuidString)])
        }
    }

    /// Rows in `status`, oldest first (used at start-up to resume interrupted jobs).
    public func videos(in status: VideoLifecycle.Status) async throws -> [VideoRecord] {
        try await lane.run { [database] in
            try database.query("SELECT * FROM videos WHERE status = ? ORDER BY created_at", [.text(status.rawValue)]).map(Self.record)
        }
    }

    private static func values(_ video: VideoRecord) -> [SQLiteValue] {
        [.text(video.id.uuidString), .text(video.title), .text(video.originalFilename), .integer(video.size),
         .text(video.contentType), .integer(video.lastModified), .text(video.status.rawValue), .optionalText(video.uploadID),
         .text(video.sourceKey), .text(video.hlsPrefix), .integer(Int64(video.partCount)), .optionalReal(video.durationSeconds),
         .optionalInteger(video.width.map(Int64.init)), .optionalInteger(video.height.map(Int64.init)),
         .optionalText(RenditionSummary.json(video.renditions)), .optionalText(video.error),
         .real(video.createdAt.timeIntervalSince1970), .real(video.updatedAt.timeIntervalSince1970),
         .optionalText(video.owner?.stored), .text(video.visibility.rawValue), .optionalText(video.uploader),
         .optionalText(video.outputs?.json)]
    }

    private static func record(_ row: [SQLiteValue]) -> VideoRecord {
        VideoRecord(
            id: UUID(uuidString: row[0].text ?? "") ?? UUID(), title: row[1].text ?? "", originalFilename: row[2].text ?? "",
            size: row[3].integer ?? 0, contentType: row[4].text ?? "", lastModified: row[5].integer ?? 0,
            status: VideoLifecycle.Status(rawValue: row[6].text ?? "") ?? .failed, uploadID: row[7].text,
            sourceKey: row[8].text ?? "", hlsPrefix: row[9].text ?? "", partCount: Int(row[10].integer ?? 0),
            durationSeconds: row[11].real, width: row[12].integer.map(Int.init), height: row[13].integer.map(Int.init),
            renditions: RenditionSummary.decode(row[14].text), error: row[15].text,
            createdAt: Date(timeIntervalSince1970: row[16].real ?? 0), updatedAt: Date(timeIntervalSince1970: row[17].real ?? 0),
            // 18 is attempts (read by recordAttempt only).
            owner: VideoOwner(stored: row.count > 19 ? row[19].text : nil),
            visibility: row.count > 20 ? Visibility(rawValue: row[20].text ?? "") ?? .private : .private,
            uploader: row.count > 21 ? row[21].text : nil,
            outputs: VideoOutputs(json: row.count > 22 ? row[22].text : nil))
    }
}
