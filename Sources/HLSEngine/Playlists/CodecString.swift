/// RFC 6381 codec strings for the `CODECS` attribute.
public enum CodecString {
    /// AAC-LC (`mp4a` object type 0x40, audio object type 2).
    public static let aacLC = "mp4a.40.2"

    /// `avc1.PPCCLL` from the first SPS in `bytes`, which may be an `avcC` record
    /// (what mp4 extradata holds) or Annex B (start codes, what an MPEG-TS packet holds).
    /// Returns nil when no SPS is found.
    public static func avc1(fromH264 bytes: some Collection<UInt8>) -> String? {
        let data = Array(bytes)
        guard let sps = firstSPSPayload(data), sps.count >= 3 else { return nil }
        return "avc1." + sps.prefix(3).map { hex($0) }.joined()
    }

    /// The three bytes after an SPS NAL header: profile_idc, constraint flags, level_idc.
    static func firstSPSPayload(_ data: [UInt8]) -> ArraySlice<UInt8>? {
        // avcC (ISO/IEC 14496-15 §5.3.3.1): version 1, then profile, compat, level.
        if data.count >= 7, data[0] == 1 {
            let spsCount = Int(data[5] & 0x1f)
            if spsCount > 0, data.count >= 8 {
                let length = Int(data[6]) << 8 | Int(data[7])
                if length >= 4, data.count >= 8 + length { return data[9..<(8 + length)] }
            }
            return nil
        }
        // Annex B: 00 00 01 (or 00 00 00 01) then the NAL header; type 7 is an SPS.
        var index = 0
        while index + 3 < data.count {
            if data[index] == 0, data[index + 1] == 0, data[index + 2] == 1 {
                let header = data[index + 3]
                if header & 0x1f == 7, index + 7 <= data.count { return data[(index + 4)..<(index + 7)] }
                index += 3
            } else {
                index += 1
            }
        }
        return nil
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
