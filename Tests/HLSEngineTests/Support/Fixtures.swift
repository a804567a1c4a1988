import Foundation

/// The media made by `fixtures/make_fixtures.sh` (run by `make test`).
enum Fixtures {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/media")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A fresh, empty temporary directory.
    static func temporaryDirectory(_ label: String) -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("vstream-tests-\(label)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}
