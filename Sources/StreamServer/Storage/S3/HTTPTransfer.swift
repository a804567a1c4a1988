import CCurl
import Foundation

/// One HTTP exchange through libcurl: the server's own calls to S3-compatible storage.
/// Blocking; `S3Storage` runs it off the Swift concurrency pool. It runs on a kept handle
/// (`CurlHandles`), over the connection an earlier request left open where there is one.
struct HTTPTransfer {
    struct Response: Sendable {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: Data
        /// Connections this exchange had to open: 0 where it reused a kept one.
        var connectionsOpened = 0
    }

    enum Body {
        case none
        case data(Data)
        /// Streamed from a file (object uploads).
        case file(URL)
    }

    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Receives the body (into memory or a file) and the headers.
    private final class Sink {
        var body = Data()
        var headers: [String: String] = [:]
        var file: UnsafeMutablePointer<FILE>?
    }

    /// How long a kept connection may wait idle and still be reused.
    static let connectionIdleSeconds = 20

    private static let initialised: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    static func perform(method: String, url: String, headers: [String: String], body: Body = .none,
                        downloadTo: URL? = nil, timeout: Int = 300) throws -> Response {
        _ = initialised
        let kept = try CurlHandles.shared.take()
        let handle = kept.raw
        var succeeded = false
        defer { CurlHandles.shared.giveBack(kept, reusable: succeeded) }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        list = curl_slist_append(list, "Expect:")  // no 100-continue round trip
        defer { curl_slist_free_all(list) }

        let sink = Sink()
        if let downloadTo {
            sink.file = fopen(downloadTo.path, "wb")
            guard sink.file != nil else { throw Failure(message: "cannot create \(downloadTo.path)") }
        }
        defer { if let file = sink.file { fclose(file) } }
        let box = Unmanaged.passUnretained(sink).toOpaque()

        ccurl_setopt_string(handle, CURLOPT_URL, url)
        ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
        ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT, timeout)
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 10)
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        // A connection idle longer is not reused: a server may have closed it meanwhile.
        ccurl_setopt_long(handle, CURLOPT_MAXAGE_CONN, Self.connectionIdleSeconds)
        ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, box)
        ccurl_setopt_write(handle, CURLOPT_WRITEFUNCTION) { pointer, size, count, context in
            guard let pointer, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            if let file = sink.file {
                return fwrite(pointer, 1, length, file)
            }
            sink.body.append(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: length)
            return length
        }
        ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, box)
        ccurl_setopt_write(handle, CURLOPT_HEADERFUNCTION) { pointer, size, count, context in
            guard let pointer, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            let line = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
            if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                sink.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return length
        }

        var upload: UnsafeMutablePointer<FILE>?
        defer { if let upload { fclose(upload) } }
        var payload = Data()
        switch body {
        case .none:
            if method == "HEAD" { ccurl_setopt_long(handle, CURLOPT_NOBODY, 1) }
        case .data(let data):
            payload = data
            ccurl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(data.count))
        case .file(let file):
            upload = fopen(file.path, "rb")
            guard let upload else { throw Failure(message: "cannot read \(file.path)") }
            let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? 0
            ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
            ccurl_setopt_pointer(handle, CURLOPT_READDATA, upload)  // libcurl reads it with fread
            ccurl_setopt_seekable_file(handle, upload)
            ccurl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(size))
        }
        let code: CURLcode = payload.withUnsafeBytes { bytes in
            if case .data = body {
                if let start = bytes.baseAddress {
                    ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: start))
                } else {
                    ccurl_setopt_string(handle, CURLOPT_POSTFIELDS, "")
                }
            }
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            throw Failure(message: "\(method) \(url): \(String(cString: curl_easy_strerror(code)))")
        }
        var status = 0
        ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var opened = 0
        ccurl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &opened)
        succeeded = true
        return Response(status: status, headers: sink.headers, body: sink.body, connectionsOpened: opened)
    }
}
