import CLibPQ
import Foundation

/// The production metadata store: PostgreSQL through libpq (`DATABASE_URL`).
/// One connection, used on its own `BlockingLane` only: libpq blocks, and a stalled
/// server must stall that lane's thread, never the cooperative pool. Each call has the
/// lane's deadline (`VSTREAM_DEPENDENCY_TIMEOUT_SECONDS`).
public final class PostgresStore: MetadataStore, Sendable {
    private let connection: PGConnection
    private let lane: BlockingLane

    public init(url: String, timeoutSeconds: Double = 5) throws {
        connection = try PGConnection(url: url)
        lane = BlockingLane("PostgreSQL", timeoutSeconds: timeoutSeconds)
        try Self.migrate(connection)
    }

    /// One round trip (`/readyz`).
    public func ping() async throws {
        try await lane.run { [connection] in try connection.execute("SELECT 1") }
    }

    /// Takes back the attempt counted for a job handed back at shutdown (never below 0).
    public func forgetAttempt(_ id: UUID) async throws {
        try await lane.run { [connection] in
            try connection.query("UPDATE videos SET attempts = GREATEST(attempts - 1, 0) WHERE id = $1", [id.uuidString])
        }
    }

    static let migrations: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE videos (
                id uuid PRIMARY KEY,
                title text NOT NULL,
                original_filename text NOT NULL,
                size bigint NOT NULL,
                content_type text NOT NULL,
                last_modified bigint NOT NULL,
                status text NOT NULL CHECK (status IN ('UPLOADING', 'PROCESSING', 'READY', 'FAILED')),
                upload_id text,
                source_key text NOT NULL,
                hls_prefix text NOT NULL,
                part_count integer NOT NULL,
                duration double precision,
                width integer,
                height integer,
                renditions jsonb,
                error text,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX videos_created_at ON videos (created_at);
            CREATE INDEX videos_status ON videos (status);
            """),
        // Attempts at the transcode, counted when each starts (see SQLiteStore).
        (2, "ALTER TABLE videos ADD COLUMN attempts integer NOT NULL DEFAULT 0"),
        // Access control (see SQLiteStore): owner, visibility, whose quota.
        (3, """
            ALTER TABLE videos ADD COLUMN owner text;
            ALTER TABLE videos ADD COLUMN visibility text NOT NULL DEFAULT 'public'
                CHECK (visibility IN ('public', 'unlisted', 'private'));
            ALTER TABLE videos ADD COLUMN uploader text;
            CREATE INDEX videos_owner ON videos (owner);
            CREATE INDEX videos_uploader_status ON videos (uploader, status);
            """),
        // What a READY video has besides its ladder (see SQLiteStore).
        (4, "ALTER TABLE videos ADD COLUMN outputs jsonb"),
        // Who is changing the video's stored files, until when (see SQLiteStore).
        (5, """
            ALTER TABLE videos ADD COLUMN edit_lease text;
            ALTER TABLE videos ADD COLUMN edit_lease_until timestamptz;
            """),
    ]

    /// Idempotent: each migration runs once, in a transaction, under an advisory lock so
    /// that servers starting together do not race.
    static func migrate(_ connection: PGConnection) throws {
        try connection.execute("SELECT pg_advisory_lock(7201)")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(7201)") }
        try connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        let applied = Set(try connection.query("SELECT version FROM schema_migrations").compactMap { $0[0].flatMap(Int.init) })
        for migration in migrations where !applied.contains(migration.version) {
            try connection.execute("BEGIN")
            do {
                try connection.execute(migration.sql)
                try connection.query("INSERT INTO schema_migrations (version) VALUES ($1)", [String(migration.version)])
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    private static let columns = """
        id, title, original_filename, size, content_type, last_modified, status, upload_id, source_key, hls_prefix,
        part_count, duration, width, height, renditions::text, error,
        extract(epoch from created_at), extract(epoch from updated_at), owner, visibility, uploader, outputs::text
        """

    public func insert(_ video: VideoRecord) async throws {
        try await lane.run { [connection] in
            try connection.query("""
                INSERT INTO videos (id, title, original_filename, size, content_type, last_modified, status, upload_id,
                    source_key, hls_prefix, part_count, duration, width, height, renditions, error, created_at, updated_at,
                    owner, visibility, uploader, outputs)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16,
                        to_timestamp($17), to_timestamp($18), $19, $20, $21, $22::jsonb)
                """, [video.id.uuidString, video.title, video.originalFilename, String(video.size), video.contentType,
                      String(video.lastModified), video.status.rawValue, video.uploadID, video.sourceKey, video.hlsPrefix,
                      String(video.partCount), video.durationSeconds.map { String($0) }, video.width.map(String.init),
                      video.height.map(String.init), RenditionSummary.json(video.renditions), video.error,
                      String(video.createdAt.timeIntervalSince1970), String(video.updatedAt.timeIntervalSince1970),
                      video.owner?.stored, video.visibility.rawValue, video.uploader, video.outputs?.json])
        }
    }

    public func videos(_ query: VideoQuery, limit: Int) async throws -> [VideoRecord] {
        try await lane.run { [connection] in
            let (condition, values): (String, [String?]) = switch query {
            case .all: ("true", [])
            case .listed: ("visibility = 'public' AND status = 'READY'", [])
            case .ownedBy(let owner): ("owner = $2", [owner.stored])
            }
            return try connection.query("SELECT \(Self.columns) FROM videos WHERE \(condition) ORDER BY created_at DESC LIMIT $1",
                                        [String(limit)] + values).map(Self.record)
        }
    }

    @discardableResult
    public func updateSettings(_ id: UUID, title: String, visibility: Visibility, hlsPrefix: String,
                               expected: VideoLifecycle.Status?) async throws -> Bool {
        try await lane.run { [connection] in
            !(try connection.query("""
                UPDATE videos SET title = $1, visibility = $2, hls_prefix = $3, updated_at = now()
                WHERE id = $4 AND ($5::text IS NULL OR status = $5) RETURNING id
                """, [title, visibility.rawValue, hlsPrefix, id.uuidString, expected?.rawValue])).isEmpty
        }
    }

    public func uploadingBytes(uploader: String) async throws -> Int64 {
        try await lane.run { [connection] in
            let rows = try connection.query("SELECT COALESCE(SUM(size), 0) FROM videos WHERE uploader = $1 AND status = 'UPLOADING'",
                                            [uploader])
            return rows.first.flatMap { $0[0] }.flatMap(Int64.init) ?? 0
        }
    }

    @discardableResult
    public func update(_ video: VideoRecord, expected: VideoLifecycle.Status?) async throws -> Bool {
        try await lane.run { [connection] in
            let rows = try connection.query("""
                UPDATE videos SET status = $1, upload_id = $2, duration = $3, width = $4, height = $5,
                    renditions = $6::jsonb, error = $7, outputs = $10::jsonb, updated_at = now()
                WHERE id = $8 AND ($9::text IS NULL OR status = $9)
                RETURNING id
                """, [video.status.rawValue, video.uploadID, video.durationSeconds.map { String($0) },
                      video.width.map(String.init), video.height.map(String.init), RenditionSummary.json(video.renditions), video.error,
                      video.id.uuidString, expected?.rawValue, video.outputs?.json])
            return !rows.isEmpty
        }
    }

    public func takeEditLease(_ id: UUID, holder: String, seconds: Double) async throws -> EditLease {
        try await lane.run { [connection] in
            let taken = try connection.query("""
                UPDATE videos SET edit_lease = $2, edit_lease_until = now() + $3::double precision * interval '1 second'
                WHERE id = $1 AND (edit_lease IS NULL OR edit_lease_until < now() OR edit_lease = $2)
                RETURNING id
                """, [id.uuidString, holder, String(seconds)])
            if !taken.isEmpty { return .taken }
            let exists = try connection.query("SELECT 1 FROM videos WHERE id = $1", [id.uuidString])
            return exists.isEmpty ? .noSuchVideo : .heldByAnother
        }
    }

    public func releaseEditLease(_ id: UUID, holder: String) async throws {
        try await lane.run { [connection] in
            try connection.query("UPDATE videos SET edit_lease = NULL, edit_lease_until = NULL WHERE id = $1 AND edit_lease = $2",
                                 [id.uuidString, holder])
        }
    }

    public func recordAttempt(_ id: UUID) async throws -> Int {
        try await lane.run { [connection] in
            let rows = try connection.query("UPDATE videos SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts",
                                            [id.uuidString])
            return rows.first.flatMap { $0[0] }.flatMap(Int.init) ?? 0
        }
    }

    public func resetAttempts(_ id: UUID) async throws {
        try await lane.run { [connection] in
            try connection.query("UPDATE videos SET attempts = 0 WHERE id = $1", [id.uuidString])
        }
    }

    public func video(_ id: UUID) async throws -> VideoRecord? {
        try await lane.run { [connection] in
            try connection.query("SELECT \(Self.columns) FROM videos WHERE id = $1", [id.uuidString]).first.map(Self.record)
        }
    }

    public func videos(limit: Int) async throws -> [VideoRecord] {
        try await lane.run { [connection] in
            try connection.query("SELECT \(Self.columns) FROM videos ORDER BY created_at DESC LIMIT $1", [String(limit)]).map(Self.record)
        }
    }

    public func videos(in status: VideoLifecycle.Status) async throws -> [VideoRecord] {
        try await lane.run { [connection] in
            try connection.query("SELECT \(Self.columns) FROM videos WHERE status = $1 ORDER BY created_at", [status.rawValue]).map(Self.record)
        }
    }

    public func delete(_ id: UUID) async throws {
        try await lane.run { [connection] in
            try connection.query("DELETE FROM videos WHERE id = $1", [id.uuidString])
        }
    }

    /// Inserts and updates of the videos table, from `pg_stat_user_tables`, after
    /// flushing this connection's pending statistics.
    func writeStatistics() async throws -> (inserts: Int, updates: Int) {
        try await lane.run { [connection] in
            try connection.execute("SELECT pg_stat_force_next_flush()")
            try connection.execute("SELECT 1")  // a transaction end reports the stats
            try connection.execute("SELECT pg_stat_clear_snapshot()")
            let row = try connection.query("SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'videos'").first
            return (Int(row?[0] ?? "") ?? -1, Int(row?[1] ?? "") ?? -1)
        }
    }

    private static func record(_ row: [String?]) -> VideoRecord {
        VideoRecord(
            id: UUID(uuidString: row[0] ?? "") ?? UUID(), title: row[1] ?? "", originalFilename: row[2] ?? "",
            size: Int64(row[3] ?? "") ?? 0, contentType: row[4] ?? "", lastModified: Int64(row[5] ?? "") ?? 0,
            status: VideoLifecycle.Status(rawValue: row[6] ?? "") ?? .failed, uploadID: row[7], sourceKey: row[8] ?? "",
            hlsPrefix: row[9] ?? "", partCount: Int(row[10] ?? "") ?? 0, durationSeconds: row[11].flatMap(Double.init),
            width: row[12].flatMap(Int.init), height: row[13].flatMap(Int.init), renditions: RenditionSummary.decode(row[14]), error: row[15],
            createdAt: Date(timeIntervalSince1970: Double(row[16] ?? "") ?? 0),
            updatedAt: Date(timeIntervalSince1970: Double(row[17] ?? "") ?? 0),
            owner: VideoOwner(stored: row[18]), visibility: Visibility(rawValue: row[19] ?? "") ?? .private,
            uploader: row[20], outputs: VideoOutputs(json: row.count > 21 ? row[21] : nil))
    }
}

struct PostgresError: Error, CustomStringConvertible {
    var message: String
    var description: String { "postgres: \(message)" }
}

/// Owns one libpq connection; `PQfinish` in deinit. Used on one `BlockingLane` only,
/// which is what makes it safe to share.
final class PGConnection: @unchecked Sendable {
    private let handle: OpaquePointer

    init(url: String) throws {
        guard let handle = PQconnectdb(url) else { throw PostgresError(message: "out of memory") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(handle)
            throw PostgresError(message: message)
        }
        self.handle = handle
    }

    deinit { PQfinish(handle) }

    /// Runs one or more statements with no parameters (the simple-query protocol, which
    /// accepts a whole migration at once).
    func execute(_ sql: String) throws {
        if PQstatus(handle) != CONNECTION_OK { PQreset(handle) }
        guard let result = PQexec(handle, sql) else { throw PostgresError(message: String(cString: PQerrorMessage(handle))) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw PostgresError(message: String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Runs a parameterised statement ($1, $2 … as text; nil is NULL) and returns the rows
    /// as text. A connection lost to a server restart is reset, and the statement sent
    /// once more: the statements here are single-row and safe to repeat.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        do {
            return try queryOnce(sql, parameters)
        } catch where PQstatus(handle) != CONNECTION_OK {
            PQreset(handle)
            return try queryOnce(sql, parameters)
        }
    }

    private func queryOnce(_ sql: String, _ parameters: [String?]) throws -> [[String?]] {
        if PQstatus(handle) != CONNECTION_OK { PQreset(handle) }
        // strdup copies live until the call returns; NULL pointers are SQL NULLs.
        let cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { parameter in parameter.flatMap { strdup($0) } }
        defer { for pointer in cStrings { free(pointer) } }
        let values: [UnsafePointer<CChar>?] = cStrings.map { pointer in pointer.map { UnsafePointer($0) } }
        guard let result = PQexecParams(handle, sql, Int32(values.count), nil, values, nil, nil, 0) else {
            throw PostgresError(message: String(cString: PQerrorMessage(handle)))
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw PostgresError(message: String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return (0..<PQntuples(result)).map { row in
            (0..<PQnfields(result)).map { column in
                PQgetisnull(result, row, column) != 0 ? nil : String(cString: PQgetvalue(result, row, column))
            }
        }
    }
}
