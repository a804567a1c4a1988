import Foundation
import Testing
@testable import StreamServer

/// AWS's published examples (S3 API reference, "Authenticating Requests: AWS Signature V4").
@Suite("SigV4")
struct SigV4Tests {
    let signer = SigV4(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                       secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
    /// 20130524T000000Z
    let date = Date(timeIntervalSince1970: 1_369_353_600)

    @Test func presignedURLMatchesAWSExample() {
        let url = signer.presignedURL(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt",
                                      date: date, expires: 86_400)
        #expect(url == "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test func headerAuthenticatedGetWithRangeMatchesAWSExample() {
        let authorization = signer.authorization(
            method: "GET", path: "/test.txt",
            headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9",
                      "x-amz-content-sha256": SigV4.emptyPayloadHash, "x-amz-date": "20130524T000000Z"],
            payloadHash: SigV4.emptyPayloadHash, date: date)
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func aPartURLIsScopedToItsPartAndUpload() {
        let part1 = signer.presignedURL(method: "PUT", scheme: "http", host: "127.0.0.1:8333", path: "/bucket/uploads/a b.mp4",
                                        query: ["partNumber": "1", "uploadId": "x/y+z"], date: date, expires: 3600)
        let part2 = signer.presignedURL(method: "PUT", scheme: "http", host: "127.0.0.1:8333", path: "/bucket/uploads/a b.mp4",
                                        query: ["partNumber": "2", "uploadId": "x/y+z"], date: date, expires: 3600)
        #expect(part1.hasPrefix("http://127.0.0.1:8333/bucket/uploads/a%20b.mp4?"))
        #expect(part1.contains("partNumber=1&uploadId=x%2Fy%2Bz"))
        #expect(part1.components(separatedBy: "X-Amz-Signature=").last != part2.components(separatedBy: "X-Amz-Signature=").last)
    }

    @Test func encodingKeepsOnlyUnreservedCharacters() {
        #expect(SigV4.encode("a-b_c.d~e f/g+h=") == "a-b_c.d~e%20f%2Fg%2Bh%3D")
        #expect(SigV4.encodePath("/bucket/dir/é.mp4") == "/bucket/dir/%C3%A9.mp4")
    }
}

@Suite("Local part signer")
struct LocalPartSignerTests {
    let signer = LocalPartSigner(secret: Data("test secret".utf8))
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aSignedPartVerifies() throws {
        let expires = Int(now.timeIntervalSince1970) + 3600
        let signature = signer.signature(method: "PUT", key: "uploads/v1", uploadID: "u1", partNumber: 3, expires: expires)
        try signer.verify(method: "PUT", key: "uploads/v1", uploadID: "u1", partNumber: 3, expires: expires,
                          signature: signature, now: now)
    }

    @Test func forgedOrRescopedSignaturesAreRejected() {
        let expires = Int(now.timeIntervalSince1970) + 3600
        let signature = signer.signature(method: "PUT", key: "uploads/v1", uploadID: "u1", partNumber: 3, expires: expires)
        let attempts: [(String, String, Int, Int, String)] = [
            ("PUT", "uploads/v1", 4, expires, signature),           // another part
            ("PUT", "uploads/v2", 3, expires, signature),           // another video
            ("PUT", "uploads/v1", 3, expires + 86_400, signature),  // a later expiry
            ("GET", "uploads/v1", 3, expires, signature),           // another method
            ("PUT", "uploads/v1", 3, expires, String(repeating: "0", count: 64)),
        ]
        for (method, key, part, expiry, presented) in attempts {
            #expect(throws: LocalPartSigner.Rejection.badSignature) {
                try signer.verify(method: method, key: key, uploadID: "u1", partNumber: part, expires: expiry,
                                  signature: presented, now: now)
            }
        }
    }

    @Test func anExpiredURLIsRejected() {
        let expires = Int(now.timeIntervalSince1970) - 1
        let signature = signer.signature(method: "PUT", key: "k", uploadID: "u", partNumber: 1, expires: expires)
        #expect(throws: LocalPartSigner.Rejection.expired) {
            try signer.verify(method: "PUT", key: "k", uploadID: "u", partNumber: 1, expires: expires, signature: signature, now: now)
        }
    }
}
