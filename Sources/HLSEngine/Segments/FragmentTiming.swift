import Foundation

/// Where one CMAF fragment sits on its track's timeline, read back from the bytes the
/// muxer wrote: `tfdt`'s baseMediaDecodeTime, and the sum of the `trun` sample durations
/// (per sample, else `tfhd`'s default, else `trex`'s). The DASH SegmentTimeline is built
/// from these, so it says what the files say, not what the muxer was asked to do.
///
/// A reader of our own single-track fragments, bounded like any input: a box that
/// claims more bytes than there are ends the walk with nil.
public struct FragmentTiming: Sendable, Equatable, Codable {
    /// In the track's timescale.
    public var decodeTime: UInt64
    public var duration: UInt64

    public init(decodeTime: UInt64, duration: UInt64) {
        self.decodeTime = decodeTime
        self.duration = duration
    }

    /// The first track fragment of a segment (`moof` + `mdat`); nil if it has none.
    /// `defaultSampleDuration` is the init segment's `trex` value.
    public static func read(_ bytes: [UInt8], defaultSampleDuration: UInt32 = 0) -> FragmentTiming? {
        let reader = BoxReader(bytes: bytes)
        guard let moof = reader.child("moof", in: 0..<bytes.count),
              let traf = reader.child("traf", in: moof),
              let tfdt = reader.child("tfdt", in: traf), tfdt.count >= 8 else { return nil }
        let version = bytes[tfdt.lowerBound]
        guard let decodeTime = version == 1
            ? reader.uint64(at: tfdt.lowerBound + 4, in: tfdt)
            : reader.uint32(at: tfdt.lowerBound + 4, in: tfdt).map(UInt64.init) else { return nil }

        var defaultDuration = UInt64(defaultSampleDuration)
        if let tfhd = reader.child("tfhd", in: traf), let flags = reader.uint32(at: tfhd.lowerBound, in: tfhd) {
            // After version+flags and track_ID: optional fields in flag order.
            var offset = tfhd.lowerBound + 8
            if flags & 0x01 != 0 { offset += 8 }  // base_data_offset
            if flags & 0x02 != 0 { offset += 4 }  // sample_description_index
            if flags & 0x08 != 0, let value = reader.uint32(at: offset, in: tfhd) { defaultDuration = UInt64(value) }
        }
        var duration: UInt64 = 0
        for trun in reader.children("trun", in: traf) {
            guard let flags = reader.uint32(at: trun.lowerBound, in: trun),
                  let count = reader.uint32(at: trun.lowerBound + 4, in: trun) else { return nil }
            var offset = trun.lowerBound + 8
            if flags & 0x01 != 0 { offset += 4 }  // data_offset
            if flags & 0x04 != 0 { offset += 4 }  // first_sample_flags
            let perSample = flags & 0x100 != 0
            let stride = 4 * [0x100, 0x200, 0x400, 0x800].filter { flags & $0 != 0 }.count
            guard count <= 1 << 20, stride == 0 || offset + Int(count) * stride <= trun.upperBound else { return nil }
            if perSample {
                for index in 0..<Int(count) {
                    guard let value = reader.uint32(at: offset + index * stride, in: trun) else { return nil }
                    duration += UInt64(value)
                }
            } else {
                duration += UInt64(count) * defaultDuration
            }
        }
        return FragmentTiming(decodeTime: decodeTime, duration: duration)
    }

    /// `trex`'s default_sample_duration in an init segment (`moov/mvex/trex`), else 0.
    public static func defaultSampleDuration(initialization bytes: [UInt8]) -> UInt32 {
        let reader = BoxReader(bytes: bytes)
        guard let moov = reader.child("moov", in: 0..<bytes.count), let mvex = reader.child("mvex", in: moov),
              let trex = reader.child("trex", in: mvex) else { return 0 }
        return reader.uint32(at: trex.lowerBound + 12, in: trex) ?? 0
    }
}

extension FragmentTiming {
    /// The first `limit` bytes of a file we just wrote: a fragment's `moof` (or an init
    /// segment's `moov`) comes first and is small (a 60 s segment at 60 fps: about 58 KB),
    /// so the media data need not be read. Plain stdio into an unfilled buffer: no
    /// Foundation `Data` and no zeroing on this per-segment path. A `moof` past the limit
    /// reads as no timing, and the ladder then goes without `manifest.mpd`.
    static func head(ofFile path: String, limit: Int = 256 << 10) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        return [UInt8](unsafeUninitializedCapacity: limit) { buffer, count in
            count = fread(buffer.baseAddress, 1, limit, file)
        }
    }
}

/// ISO BMFF boxes, as ranges of their payload (after the header).
private struct BoxReader {
    let bytes: [UInt8]

    func uint32(at offset: Int, in range: Range<Int>) -> UInt32? {
        guard offset >= range.lowerBound, offset <= range.upperBound - 4 else { return nil }
        return bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    func uint64(at offset: Int, in range: Range<Int>) -> UInt64? {
        guard offset >= range.lowerBound, offset <= range.upperBound - 8 else { return nil }
        return bytes[offset..<offset + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    func children(_ type: String, in range: Range<Int>) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var offset = range.lowerBound
        let wanted = Array(type.utf8)
        while offset + 8 <= range.upperBound, let size32 = uint32(at: offset, in: range) {
            var header = 8
            var size = Int(size32)
            if size32 == 1 {
                guard let size64 = uint64(at: offset + 8, in: range), size64 <= UInt64(range.upperBound - offset) else { break }
                size = Int(size64)
                header = 16
            } else if size32 == 0 {
                size = range.upperBound - offset
            }
            guard size >= header, size <= range.upperBound - offset else { break }
            if Array(bytes[offset + 4..<offset + 8]) == wanted { found.append(offset + header..<offset + size) }
            offset += size
        }
        return found
    }

    func child(_ type: String, in range: Range<Int>) -> Range<Int>? { children(type, in: range).first }
}
