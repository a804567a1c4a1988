import CAV

/// A negative return code from libav*, with `av_strerror`'s message.
public struct AVError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public let message: String
    /// What we were doing, e.g. "avcodec_open2(libx264)".
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
        var buffer = [CChar](repeating: 0, count: Int(AV_ERROR_MAX_STRING_SIZE))
        if av_strerror(code, &buffer, buffer.count) < 0 {
            self.message = "unknown error \(code)"
        } else {
            self.message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public var description: String { "\(operation): \(message)" }

    public static let eof = cav_error_eof()
    public static let tryAgain = cav_error_eagain()
    public static let invalidData = cav_error_invalid_data()
    public static let exit = cav_error_exit()
    public static let outOfMemory = cav_error_nomem()

    public var isEOF: Bool { code == Self.eof }
    public var isTryAgain: Bool { code == Self.tryAgain }
}

/// Returns `code` when it is not negative, throws `AVError` otherwise.
@discardableResult
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(AVError) -> Int32 {
    if code < 0 { throw AVError(code: code, operation: operation()) }
    return code
}
