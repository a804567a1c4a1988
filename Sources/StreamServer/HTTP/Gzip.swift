import CZlib
import Foundation

/// One-shot gzip (zlib), for playlists: text that shrinks to a fraction.
enum Gzip {
    static func compress(_ data: Data) -> Data? {
        var capacity = czlib_gzip_bound(data.count)
        var output = Data(count: capacity)
        let status = data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
            output.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) -> Int32 in
                guard let destination = buffer.bindMemory(to: UInt8.self).baseAddress else { return -1 }
                return czlib_gzip(input.bindMemory(to: UInt8.self).baseAddress, data.count, destination, &capacity)
            }
        }
        guard status == 0 else { return nil }
        return output.prefix(capacity)
    }

    /// True when an Accept-Encoding header admits gzip: `gzip` or `*`, with no `q=0`.
    static func isAccepted(_ header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { item in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.first == "gzip" || parts.first == "*" else { return false }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
    }
}
