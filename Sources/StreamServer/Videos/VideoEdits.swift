import Foundation

/// The owner's changes that rewrite a video's stored files (captions added or removed, a
/// move between public and private, the deletion), one at a time per video across every API
/// node. Two at once would each rewrite the master from the same old one: both answered
/// success, and one change was lost.
///
/// In arrival order on this node (`KeyedSerializer`), and under the row's edit lease against
/// the other nodes. The lease is renewed while the change runs (a film's captions are
/// thousands of files to store) and expires without it, so a node that dies holding one holds
/// up that video's changes for `leaseSeconds` at most; meanwhile they answer 409.
public struct VideoEdits: Sendable {
    let store: any MetadataStore
    /// How long a change waits for another node's to end before it answers 409.
    let patience: Duration
    /// How long a lease lasts unless renewed; it is renewed every third of it.
    let leaseSeconds: Double
    private let local = KeyedSerializer()

    public init(store: any MetadataStore, patience: Duration = .seconds(20), leaseSeconds: Double = 60) {
        self.store = store
        self.patience = patience
        self.leaseSeconds = leaseSeconds
    }

    /// Runs `change` holding the video's lease; 404 when the video is gone, 409 when
    /// another change holds it past `patience`.
    func run<T: Sendable>(_ id: UUID, _ change: @Sendable @escaping () async throws -> T) async throws -> T {
        try await local.run(id) {
            let holder = UUID().uuidString
            try await takeLease(id, holder: holder)
            do {
                let result = try await holding(id, holder: holder, change)
                try? await store.releaseEditLease(id, holder: holder)
                return result
            } catch {
                try? await store.releaseEditLease(id, holder: holder)
                throw error
            }
        }
    }

    private func takeLease(_ id: UUID, holder: String) async throws {
        let deadline = ContinuousClock.now + patience
        var pause = Duration.milliseconds(20)
        while true {
            switch try await store.takeEditLease(id, holder: holder, seconds: leaseSeconds) {
            case .taken:
                return
            case .noSuchVideo:
                throw APIError.notFound("no such video")
            case .heldByAnother:
                // Another node's change is storing its files: most end in under a second,
                // unless that node died holding the lease.
                guard ContinuousClock.now + pause < deadline else {
                    throw APIError.conflict("another change to this video is in progress; try again")
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(500))
            }
        }
    }

    /// `change`, with the lease renewed every third of its length until it ends.
    private func holding<T: Sendable>(_ id: UUID, holder: String, _ change: @Sendable @escaping () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await change() }
            group.addTask { [store, leaseSeconds] in
                while true {
                    try await Task.sleep(for: .seconds(leaseSeconds / 3))
                    _ = try? await store.takeEditLease(id, holder: holder, seconds: leaseSeconds)
                }
            }
            defer { group.cancelAll() }
            while let finished = try await group.next() {
                if let result = finished { return result }
            }
            throw CancellationError()  // the renewal never ends by itself
        }
    }
}

/// Runs one body at a time per key, in arrival order.
actor KeyedSerializer {
    private var tails: [UUID: Task<Void, Never>] = [:]

    func run<T: Sendable>(_ key: UUID, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        let previous = tails[key]
        let task = Task { () async throws -> T in
            await previous?.value
            return try await body()
        }
        let tail = Task { _ = try? await task.value }
        tails[key] = tail
        defer { if tails[key] == tail { tails[key] = nil } }
        return try await task.value
    }
}
