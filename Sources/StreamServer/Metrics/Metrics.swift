import Foundation
import HLSEngine
import Metrics
import Prometheus

/// The process's metrics, through swift-metrics with swift-prometheus as the backend.
/// `bootstrap()` once at start-up (serve and worker); `exposition()` is the body of
/// `/metrics`. Names follow Prometheus conventions (`_total` counters, seconds).
public enum MetricsExport {
    private static let registry = PrometheusCollectorRegistry()
    private static let once: Void = {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500),
                                                   .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300)]
        MetricsSystem.bootstrap(factory)
    }()

    public static func bootstrap() { once }

    /// The Prometheus text format of every metric so far.
    public static func exposition() -> String { registry.emitToString() }
}

/// Jobs: started, succeeded, failed, retried, dead-lettered; transcode time and speed.
enum JobMetrics {
    static func outcome(_ name: String) { Counter(label: "vstream_jobs_\(name)_total").increment() }

    /// The counter an attempt's end belongs to.
    static func record(_ disposition: JobDisposition, of outcome: JobOutcome) {
        switch disposition {
        case .acknowledge: JobMetrics.outcome(outcome == .succeeded ? "succeeded" : outcome == .cancelled ? "cancelled" : "skipped")
        case .retry: JobMetrics.outcome("retried")
        case .deadLetter: JobMetrics.outcome("failed")
        case .release: JobMetrics.outcome("released")
        }
    }

    static func recordTranscode(_ result: TranscodeResult, seconds: Double) {
        Timer(label: "vstream_transcode_seconds").recordNanoseconds(Int64(seconds * 1e9))
        guard seconds > 0 else { return }
        for rendition in result.renditions {
            Recorder(label: "vstream_transcode_fps", dimensions: [("rendition", rendition.rendition.name)])
                .record(Double(rendition.frameCount) / seconds)
        }
    }

    /// One chunk of a split-and-stitch video encoded and stored by this worker.
    static func chunkEncoded() { Counter(label: "vstream_chunks_encoded_total").increment() }

    static func queue(depth: Int, pending: Int, delayed: Int, dead: Int) {
        Gauge(label: "vstream_queue_depth").record(depth)
        Gauge(label: "vstream_queue_pending").record(pending)
        Gauge(label: "vstream_queue_delayed").record(delayed)
        Gauge(label: "vstream_queue_dead").record(dead)
    }
}

/// Storage: bytes each way, and errors (every failed call, retried or not).
enum StorageMetrics {
    static func transferred(body: HTTPTransfer.Body, response: HTTPTransfer.Response, downloadTo: URL?) {
        let sent: Int = switch body {
        case .data(let data): data.count
        case .file(let url): size(url)
        case .none: 0
        }
        let received = response.body.count + (downloadTo.map(size) ?? 0)
        Counter(label: "vstream_storage_bytes_total", dimensions: [("direction", "out")]).increment(by: sent)
        Counter(label: "vstream_storage_bytes_total", dimensions: [("direction", "in")]).increment(by: received)
        // Requests that could not reuse a kept connection (`CurlHandles`): each cost a handshake.
        if response.connectionsOpened > 0 {
            Counter(label: "vstream_storage_connections_opened_total").increment(by: response.connectionsOpened)
        }
    }

    private static func size(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0
    }

    static func failed(method: String, error: any Error) {
        let kind = (error as? S3Storage.Failure).map { "\($0.status)" } ?? "transport"
        Counter(label: "vstream_storage_errors_total", dimensions: [("method", method), ("status", kind)]).increment()
    }
}
