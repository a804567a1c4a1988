import Testing
@testable import HLSEngine

@Suite("Playlists")
struct PlaylistTests {
    /// BANDWIDTH is the peak segment bit rate of RFC 8216 §4.3.4.2: the highest rate of any
    /// run of contiguous segments lasting 0.5 to 1.5 times the target duration. Before, a last
    /// segment of a hair under a second was left out (a VP9 WebM source's ladder declared
    /// 360 kbit/s for a segment of 478: check_hls.py warned), and runs were never measured.
    @Test func bandwidthIsThePeakOverRunsOfSegments() {
        let peak = { (sizes: [Int64], durations: [Double]) in
            PlaylistWriter.rates(sizes.enumerated().map { .init(fileName: "segment_\($0.offset).m4s", bytes: $0.element) },
                                 durations: durations).peak
        }
        // The last segment, 1 s by its EXTINF, 0.9999996 by its timestamps: a run of its own.
        #expect(peak([75_153, 59_765], [2, 0.999_999_6]) == Int((Double(59_765 * 8) / 0.999_999_6).rounded(.up)))
        // A 0.3 s last segment (an IDR) is measured with the segment before it, not alone.
        #expect(peak([250_000, 250_000, 60_000], [2, 2, 0.3]) == Int((Double(310_000 * 8) / 2.3).rounded(.up)))
        // Two heavy 0.6 s segments are a 1.2 s run (target 2: runs of 1 to 3 s).
        #expect(peak([150_000, 150_000, 100_000], [0.6, 0.6, 2]) == Int((Double(300_000 * 8) / 1.2).rounded(.up)))
        // One segment alone, however short, is the rendition.
        #expect(peak([10_000], [0.5]) == 160_000)
    }

    @Test func fmp4MediaPlaylistByteForByte() {
        let playlist = MediaPlaylist(initializationURI: "init.mp4", segments: [
            .init(uri: "segment_00000.m4s", duration: 2.0),
            .init(uri: "segment_00001.m4s", duration: 2.002),
            .init(uri: "segment_00002.m4s", duration: 0.7),
        ])
        #expect(playlist.render() == """
            #EXTM3U
            #EXT-X-VERSION:6
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:0
            #EXT-X-PLAYLIST-TYPE:VOD
            #EXT-X-INDEPENDENT-SEGMENTS
            #EXT-X-MAP:URI="init.mp4"
            #EXTINF:2.000000,
            segment_00000.m4s
            #EXTINF:2.002000,
            segment_00001.m4s
            #EXTINF:0.700000,
            segment_00002.m4s
            #EXT-X-ENDLIST

            """)
    }

    @Test func tsPlaylistNeedsOnlyVersion3() {
        let playlist = MediaPlaylist(initializationURI: nil, segments: [.init(uri: "segment_00000.ts", duration: 2)])
        #expect(playlist.version == 3)
        #expect(!playlist.render().contains("EXT-X-MAP"))
    }

    @Test func targetDurationIsTheLongestRoundedSegment() {
        // RFC 8216 §4.3.3.1: EXTINF rounded to the nearest integer must not exceed it.
        #expect(MediaPlaylist(initializationURI: nil, segments: [.init(uri: "a", duration: 2.49)]).targetDuration == 2)
        #expect(MediaPlaylist(initializationURI: nil, segments: [.init(uri: "a", duration: 2.5)]).targetDuration == 3)
        #expect(MediaPlaylist(initializationURI: nil, segments: [.init(uri: "a", duration: 0.2)]).targetDuration == 1)
    }

    @Test func masterListsLowestRungFirstWithEveryAttribute() {
        let master = MasterPlaylist(variants: [
            .init(uri: "720p/index.m3u8", bandwidth: 3_100_000, averageBandwidth: 2_950_000,
                  codecs: "avc1.64001f,mp4a.40.2", width: 1280, height: 720, frameRate: 30),
            .init(uri: "360p/index.m3u8", bandwidth: 990_000, averageBandwidth: 910_000,
                  codecs: "avc1.64001e,mp4a.40.2", width: 640, height: 360, frameRate: 29.97),
        ], version: 6)
        #expect(master.render() == """
            #EXTM3U
            #EXT-X-VERSION:6
            #EXT-X-INDEPENDENT-SEGMENTS
            #EXT-X-STREAM-INF:BANDWIDTH=990000,AVERAGE-BANDWIDTH=910000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=29.970
            360p/index.m3u8
            #EXT-X-STREAM-INF:BANDWIDTH=3100000,AVERAGE-BANDWIDTH=2950000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000
            720p/index.m3u8

            """)
    }

    @Test func segmentDurationsRunToTheNextSegmentsStart() {
        let segments = [
            SegmentedMuxer.Segment(fileName: "0", bytes: 1, start: 0.5, end: 2.6),
            SegmentedMuxer.Segment(fileName: "1", bytes: 1, start: 2.5, end: 4.53),
            SegmentedMuxer.Segment(fileName: "2", bytes: 1, start: 4.5, end: 5.0),
        ]
        #expect(PlaylistWriter.segmentDurations(segments) == [2.0, 2.0, 0.5])
    }
}

@Suite("Codec strings")
struct CodecStringTests {
    @Test func fromAnAVCDecoderConfigurationRecord() {
        // avcC: version 1, High (0x64), constraints 0x00, level 4.0 (0x28), then one SPS.
        let avcC: [UInt8] = [1, 0x64, 0x00, 0x28, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x28]
        #expect(CodecString.avc1(fromH264: avcC) == "avc1.640028")
    }

    @Test func fromAnnexBWithAnAccessUnitDelimiterFirst() {
        let annexB: [UInt8] = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x4d, 0x40, 0x1f, 0xaa, 0, 0, 1, 0x68, 0xee]
        #expect(CodecString.avc1(fromH264: annexB) == "avc1.4d401f")
    }

    @Test func noSPSGivesNil() {
        #expect(CodecString.avc1(fromH264: [0, 0, 1, 0x65, 0x88]) == nil)
        #expect(CodecString.avc1(fromH264: [UInt8]()) == nil)
    }
}

@Suite("Frame rotation")
struct FrameRotatorTests {
    private func rotate(_ plane: [[UInt8]], _ degrees: Int) -> [[UInt8]] {
        let height = plane.count, width = plane[0].count
        let source = plane.flatMap { $0 }
        let (outWidth, outHeight) = degrees % 180 == 0 ? (width, height) : (height, width)
        var target = [UInt8](repeating: 0, count: outWidth * outHeight)
        source.withUnsafeBufferPointer { src in
            target.withUnsafeMutableBufferPointer { dst in
                FrameRotator.rotatePlane(source: src.baseAddress!, sourceStride: width, width: width, height: height,
                                         target: dst.baseAddress!, targetStride: outWidth, clockwise: degrees)
            }
        }
        return (0..<outHeight).map { Array(target[($0 * outWidth)..<(($0 + 1) * outWidth)]) }
    }

    @Test func quarterTurnsMoveCornersWhereAPlayerWould() {
        let picture: [[UInt8]] = [[1, 2, 3], [4, 5, 6]]
        #expect(rotate(picture, 90) == [[4, 1], [5, 2], [6, 3]])
        #expect(rotate(picture, 270) == [[3, 6], [2, 5], [1, 4]])
        #expect(rotate(picture, 180) == [[6, 5, 4], [3, 2, 1]])
    }
}
