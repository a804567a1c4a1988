/// A request's `Range` header against an object of `size` bytes (RFC 9110 §14).
enum ByteRange: Equatable {
    /// No header, or one this server ignores (malformed, or several ranges): the whole object, 200.
    case whole
    /// One satisfiable range, clipped to the object: 206.
    case range(Range<Int64>)
    /// A well-formed range that selects nothing (`bytes=-0`, a start past the end): 416.
    case unsatisfiable

    /// `bytes=a-b`, `bytes=a-` or `bytes=-n`.
    static func parse(_ header: String?, size: Int64) -> ByteRange {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
        guard spec.count == 2, spec.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return .whole }
        if spec[0].isEmpty {
            // A suffix: the last n bytes. n = 0, or an empty object, selects nothing.
            guard let suffix = Int64(spec[1]) else { return spec[1].isEmpty ? .whole : .range(0..<size) }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .range(max(0, size - suffix)..<size)
        }
        guard let first = Int64(spec[0]) else { return .whole }  // more digits than Int64: malformed
        let last = spec[1].isEmpty ? Int64.max : (Int64(spec[1]) ?? Int64.max)
        guard last >= first else { return .whole }  // invalid, so ignored (§14.1.1)
        guard first < size else { return .unsatisfiable }
        return .range(first..<(min(last, size - 1) + 1))
    }
}
