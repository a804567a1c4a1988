import CAV
import Foundation

/// A yuv420p picture as a JPEG file, from libavcodec's MJPEG encoder, written through a
/// temporary file and a rename so a reader never sees half of one.
enum JPEGFile {
    static func write(_ picture: Frame, width: Int, height: Int, to path: String) throws {
        picture.pts = 0
        picture.pointer.pointee.quality = 3 * FF_QP2LAMBDA  // qscale 3: a good-looking still
        let encoder = try Encoder(codecName: "mjpeg") { context in
            context.pointee.width = Int32(clamping: width)
            context.pointee.height = Int32(clamping: height)
            context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
            // Limited-range input, said so explicitly (mjpeg needs this for non-J formats).
            context.pointee.color_range = AVCOL_RANGE_MPEG
            context.pointee.strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL
            context.pointee.time_base = AVRational(num: 1, den: 25)
            context.pointee.flags |= AV_CODEC_FLAG_QSCALE
        }
        var jpeg = Data()
        let collect: (Packet) throws -> Void = { jpeg.append(contentsOf: $0.bytes) }
        try encoder.encode(picture, emit: collect)
        try encoder.encode(nil, emit: collect)
        guard !jpeg.isEmpty else { throw TranscodeError.Reason.io("the JPEG encoder produced nothing") }
        let temporary = path + ".part"
        do {
            try jpeg.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            throw TranscodeError.Reason.io("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
