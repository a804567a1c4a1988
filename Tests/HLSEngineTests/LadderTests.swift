import Testing
@testable import HLSEngine

@Suite("Ladder rules")
struct LadderTests {
    private func sizes(_ geometry: DisplayGeometry, rungs: [Int] = Ladder.defaultRungs) -> [String] {
        Ladder.renditions(for: geometry, rungs: rungs).map { "\($0.width)x\($0.height)" }
    }

    @Test func landscape1080pGetsThreeRungs() {
        #expect(sizes(DisplayGeometry(codedWidth: 1920, codedHeight: 1080)) == ["640x360", "1280x720", "1920x1080"])
    }

    @Test func portraitUsesTheShortSide() {
        #expect(sizes(DisplayGeometry(codedWidth: 1080, codedHeight: 1920)) == ["360x640", "720x1280", "1080x1920"])
    }

    @Test func rotationIsAppliedBeforeChoosing() {
        let phone = DisplayGeometry(codedWidth: 1280, codedHeight: 720, rotation: 90)
        #expect(phone.displayWidth == 720 && phone.displayHeight == 1280)
        #expect(sizes(phone) == ["360x640", "720x1280"])
    }

    @Test func anamorphicPixelsAreMadeSquare() {
        // PAL 720x576 with SAR 16:15 is shown as 768x576: only the 360 rung fits.
        let pal = DisplayGeometry(codedWidth: 720, codedHeight: 576, sampleAspect: (16, 15))
        #expect(sizes(pal) == ["480x360"])
    }

    @Test func longSideRoundsToNearestEvenHalvesUp() {
        // 1366x767: 360 x 1366/767 = 641.15 -> 642; 720 x 1366/767 = 1282.29 -> 1282.
        #expect(sizes(DisplayGeometry(codedWidth: 1366, codedHeight: 767)) == ["642x360", "1282x720"])
        #expect(Ladder.evenRounded(641.0) == 642)  // a half (320.5 pairs) goes up
        #expect(Ladder.evenRounded(640.99) == 640)
    }

    @Test func neverUpscales() {
        #expect(sizes(DisplayGeometry(codedWidth: 1280, codedHeight: 720)) == ["640x360", "1280x720"])
        #expect(sizes(DisplayGeometry(codedWidth: 640, codedHeight: 480)) == ["480x360"])
    }

    @Test func sourceBelowTheLowestRungKeepsItsOwnEvenSize() {
        #expect(sizes(DisplayGeometry(codedWidth: 256, codedHeight: 144)) == ["256x144"])
        #expect(sizes(DisplayGeometry(codedWidth: 321, codedHeight: 181)) == ["322x182"])
        #expect(Ladder.renditions(for: DisplayGeometry(codedWidth: 256, codedHeight: 144)).first?.name == "144p")
    }

    @Test(arguments: [(1920, 1080, 1, 1, 0), (1366, 767, 1, 1, 0), (720, 576, 16, 15, 0), (1280, 720, 1, 1, 90),
                      (1440, 1080, 4, 3, 0), (853, 480, 1, 1, 270), (3840, 1600, 1, 1, 0)])
    func aspectIsKeptWithinOnePercentAndSidesAreEven(width: Int, height: Int, sarNum: Int, sarDen: Int, rotation: Int) {
        let geometry = DisplayGeometry(codedWidth: width, codedHeight: height, sampleAspect: (sarNum, sarDen), rotation: rotation)
        for rendition in Ladder.renditions(for: geometry) {
            #expect(rendition.width % 2 == 0 && rendition.height % 2 == 0)
            let aspect = Double(rendition.width) / Double(rendition.height)
            #expect(abs(aspect - geometry.displayAspect) / geometry.displayAspect < 0.01, "\(rendition)")
            #expect(Double(min(rendition.width, rendition.height)) <= geometry.shortSide + 1)
        }
    }

    @Test func bitrateLadderHasVBVHeadroom() {
        let renditions = Ladder.renditions(for: DisplayGeometry(codedWidth: 1920, codedHeight: 1080))
        #expect(renditions.map(\.videoBitrate) == [800_000, 2_800_000, 5_000_000])
        for rendition in renditions {
            #expect(rendition.maxBitrate > rendition.videoBitrate && rendition.bufferSize > rendition.maxBitrate)
        }
    }

    @Test func rotationAnglesNormalise() {
        #expect(DisplayGeometry.normalizedRotation(-90) == 270)
        #expect(DisplayGeometry.normalizedRotation(90.0000001) == 90)
        #expect(DisplayGeometry.normalizedRotation(-180) == 180)
        #expect(DisplayGeometry.normalizedRotation(.nan) == 0)
    }
}
