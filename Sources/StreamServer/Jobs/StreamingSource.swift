import Foundation
import HLSEngine
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An upload in object storage, readable by the engine while it is still being fetched,
/// so that transcoding starts at once instead of after a full download.
///
///     storage ──ranged GETs, in order──▶ scratch file ──pread──▶ engine
///                  └── a read far ahead (a phone video's moov at the end) ──▶ one ranged GET
///
/// - A background task fetches the object front to back in ranged GETs into a scratch
///   file: the read-ahead. A read of bytes already fetched is a pread.
///   - The first GET is small (64 KiB, enough for a faststart moov), and each next one
///     doubles up to `chunkBytes`: the engine's first read waits for one small request.
///   - The fetch stays within `readAheadBytes` of what the engine has read in order. It
///     follows the transcode, like a player's buffer, instead of taking the object at the
///     link's full speed: a 600 MB upload fetched at once takes the CPU (the storage's and
///     this process's) from the encoders just when the first segments are being made.
/// - A read just past what is fetched (within two chunks) waits for the fetch.
/// - A read further ahead is served by its own ranged GET of a `blockBytes` block, kept
///   in a small cache: a moov at the end costs a request or two, not the whole file first.
///
/// `read` blocks its caller: the engine's own thread in process, or the relay thread that
/// feeds a supervised child. Never call it from the concurrency pool.
final class StreamingSource: ByteSource {
    struct Statistics: Sendable, Equatable {
        /// Bytes fetched in order so far, and whether the fetch is complete.
        var fetched: Int64 = 0
        var complete = false
        /// Ranged GETs for blocks far ahead of the fetch.
        var blockRequests = 0
        /// The end of the furthest read in order (near the fetch): the fetch stays within
        /// `readAheadBytes` of it.
        var demanded: Int64 = 0
    }

    private struct State {
        var statistics = Statistics()
        var failure: String?
        var blocks: [Int64: Data] = [:]
        var blockOrder: [Int64] = []
        /// The fetch, paused at an offset until the engine reads further.
        var pausedFetch: (offset: Int64, continuation: CheckedContinuation<Void, Never>)?
    }

    let size: Int64?
    private let total: Int64
    private let storage: any ObjectStorage
    private let key: String
    private let file: URL
    private let descriptor: Int32
    private let chunkBytes: Int64
    private let readAheadBytes: Int64
    private let blockBytes: Int64
    private let waitWindowBytes: Int64
    /// Where the fetch waits for a test's release: tests that must see the engine work
    /// ahead of the fetch, whatever the load on the machine.
    private let hold: FetchHold?
    private let state = Mutex(State())
    private let progressed = NSCondition()
    private let fetcher = Mutex<Task<Void, Never>?>(nil)
    private static let cachedBlocks = 8
    private static let firstChunkBytes: Int64 = 64 << 10

    /// Creates the scratch file; `start()` begins the fetch.
    init(storage: any ObjectStorage, key: String, size: Int64, scratch file: URL, chunkBytes: Int64 = 8 << 20,
         readAheadBytes: Int64 = 32 << 20, blockBytes: Int64 = 1 << 20, hold: FetchHold? = nil) throws {
        guard size > 0 else { throw TranscodeError.Reason.empty }
        self.size = size
        self.total = size
        self.storage = storage
        self.key = key
        self.file = file
        self.chunkBytes = max(Self.firstChunkBytes, chunkBytes)
        self.readAheadBytes = max(self.chunkBytes, readAheadBytes)
        self.blockBytes = max(1 << 12, blockBytes)
        // Reads in the chunk being fetched, or the next, wait for it; beyond, a ranged GET.
        self.waitWindowBytes = 2 * self.chunkBytes
        self.hold = hold
        descriptor = open(file.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw TranscodeError.Reason.io("cannot create \(file.path)") }
    }

    deinit {
        fetcher.withLock { $0?.cancel() }
        close(descriptor)
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    func start() {
        let task = Task { [self] in await fetchInOrder() }
        fetcher.withLock { $0 = task }
    }

    /// Stops the fetch; waiting reads fail.
    func cancel() {
        fetcher.withLock { $0?.cancel() }
        fail("the fetch was stopped")
    }

    /// Waits until every byte is fetched (or the fetch failed). The fetch follows the reads:
    /// call it once they have reached within the read-ahead of the end.
    func waitUntilComplete() async {
        await fetcher.withLock { $0 }?.value
    }

    private func fetchInOrder() async {
        var offset: Int64 = 0
        var chunk = Self.firstChunkBytes
        var held = false
        while offset < total {
            await waitForDemand(reaching: offset)
            if Task.isCancelled { return fail("the fetch was stopped") }
            let end = min(total, offset + chunk)
            chunk = min(chunkBytes, chunk * 2)
            do {
                guard let data = try await storage.read(key: key, range: offset..<end), !data.isEmpty else {
                    return fail("the upload ended at \(offset) of \(total) bytes")
                }
                try write(data, at: offset)
                offset += Int64(data.count)
            } catch {
                return fail("\(error)")
            }
            let fetched = offset
            change { $0.statistics.fetched = fetched }
            if let hold, !held, offset >= hold.offset {
                held = true
                await hold.released()
            }
        }
        change { $0.statistics.complete = true }
    }

    /// Whether the fetch may go on at `offset`: within the read-ahead of the reads.
    private func isWanted(_ offset: Int64, _ state: State) -> Bool {
        offset < state.statistics.demanded + readAheadBytes
    }

    /// Returns once the engine has read to within `readAheadBytes` of `offset`, or the
    /// fetch is cancelled.
    private func waitForDemand(reaching offset: Int64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Checked under the lock the cancellation handler takes: a cancel either
                // comes first and is seen here, or finds the continuation and resumes it.
                let goOn = state.withLock { state in
                    if Task.isCancelled || isWanted(offset, state) { return true }
                    state.pausedFetch = (offset, continuation)
                    return false
                }
                if goOn { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.pausedFetch.take()?.continuation }?.resume()
        }
    }

    /// Records a read in order up to `end`, and resumes the fetch if it now falls within
    /// the read-ahead.
    private func demand(upTo end: Int64) {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.statistics.demanded = max(state.statistics.demanded, end)
            guard let paused = state.pausedFetch, isWanted(paused.offset, state) else { return nil }
            state.pausedFetch = nil
            return paused.continuation
        }?.resume()
    }

    /// Changes the state and wakes the reads waiting for it.
    private func change(_ body: (inout State) -> Void) {
        progressed.lock()
        state.withLock { body(&$0) }
        progressed.broadcast()
        progressed.unlock()
    }

    private func write(_ data: Data, at offset: Int64) throws {
        try data.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { throw TranscodeError.Reason.io("cannot write \(file.path): \(String(cString: strerror(errno)))") }
                done += count
            }
        }
    }

    private func fail(_ reason: String) {
        change { if $0.failure == nil && !$0.statistics.complete { $0.failure = reason } }
    }

    // MARK: ByteSource

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
        guard offset >= 0, offset < total, buffer.count > 0 else { return 0 }
        let wanted = Int64(buffer.count)
        progressed.lock()
        while true {
            let (fetched, complete, failure) = state.withLock { ($0.statistics.fetched, $0.statistics.complete, $0.failure) }
            if offset < fetched || complete {
                progressed.unlock()
                demand(upTo: offset + wanted)
                return try readFetched(at: offset, count: Int(min(wanted, fetched - offset)), into: buffer)
            }
            if let failure {
                progressed.unlock()
                throw .io("the upload could not be read from storage (\(failure))")
            }
            if offset >= fetched + waitWindowBytes {
                progressed.unlock()
                return try readBlock(at: offset, into: buffer)
            }
            // Just past the fetch: it must reach here, paused or not.
            demand(upTo: offset + wanted)
            progressed.wait()
        }
    }

    private func readFetched(at offset: Int64, count: Int, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
        while true {
            let read = pread(descriptor, buffer.baseAddress, count, off_t(offset))
            if read >= 0 { return read }
            if errno != EINTR { throw .io("cannot read \(file.path): \(String(cString: strerror(errno)))") }
        }
    }

    /// A read far ahead of the fetch: its block, from the cache or one ranged GET.
    private func readBlock(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(TranscodeError.Reason) -> Int {
        let start = offset - offset % blockBytes
        let block: Data
        if let cached = state.withLock({ $0.blocks[start] }) {
            block = cached
        } else {
            let result = Self.wait { [storage, key, total, blockBytes] in
                try await storage.read(key: key, range: start..<min(total, start + blockBytes))
            }
            guard case .success(let fetched?) = result, !fetched.isEmpty else {
                throw .io("the upload could not be read from storage (a ranged read at \(start) failed)")
            }
            block = fetched
            state.withLock { state in
                state.statistics.blockRequests += 1
                state.blocks[start] = fetched
                state.blockOrder.append(start)
                if state.blockOrder.count > Self.cachedBlocks { state.blocks[state.blockOrder.removeFirst()] = nil }
            }
        }
        let from = Int(offset - start)
        guard from < block.count else { return 0 }
        let count = min(buffer.count, block.count - from)
        block.withUnsafeBytes { bytes in buffer.baseAddress?.copyMemory(from: bytes.baseAddress! + from, byteCount: count) }
        return count
    }

    /// Runs async work to its end from a thread outside the concurrency pool.
    private static func wait<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        Task {
            let outcome = await Result(catching: { try await work() })
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 } ?? .failure(CancellationError())
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Holds a `StreamingSource`'s fetch once it has `offset` bytes, until `release()`.
final class FetchHold: Sendable {
    let offset: Int64
    private let latch: AsyncStream<Void>
    private let opener: AsyncStream<Void>.Continuation

    init(at offset: Int64) {
        self.offset = offset
        (latch, opener) = AsyncStream.makeStream(of: Void.self)
    }

    func release() { opener.finish() }

    /// Returns once `release()` was called (at once, if it was before).
    func released() async { for await _ in latch {} }
}
