import CCurl
import Foundation

/// One libcurl easy handle, freed with its owner. A handle keeps the connections it opened
/// (and their TLS sessions) between requests.
final class CurlHandle {
    let raw: UnsafeMutableRawPointer

    init() throws(HTTPTransfer.Failure) {
        guard let raw = curl_easy_init() else { throw HTTPTransfer.Failure(message: "curl_easy_init failed") }
        self.raw = raw
    }

    deinit { curl_easy_cleanup(raw) }
}

/// Easy handles kept between requests, so a request to the bucket reuses an open
/// connection: to a remote bucket over HTTPS a new one costs two more round trips (TCP,
/// then TLS) before the request's own, and every segment, playlist and ranged read was
/// one. A handle is lent to one request at a time; at most `kept` wait idle.
final class CurlHandles: @unchecked Sendable {
    // @unchecked: `idle` is touched under `lock` only, and a handle is used by one thread at a time.
    static let shared = CurlHandles(kept: 16)

    private let lock = NSLock()
    private var idle: [CurlHandle] = []
    private let kept: Int

    init(kept: Int) { self.kept = kept }

    /// An idle handle (its connections open), or a new one.
    func take() throws(HTTPTransfer.Failure) -> CurlHandle {
        if let handle = lock.withLock({ idle.popLast() }) { return handle }
        return try CurlHandle()
    }

    /// Takes `handle` back once its request is over, its options reset. One whose request
    /// failed is dropped, with its connection: a fault may have left that connection broken.
    func giveBack(_ handle: CurlHandle, reusable: Bool) {
        guard reusable else { return }
        curl_easy_reset(handle.raw)
        lock.withLock {
            if idle.count < kept { idle.append(handle) }
        }
    }
}
