import Foundation
import JWTKit
@testable import StreamServer

/// Mints the JWTs an embedding app would give its users, with jwt-kit, as the app's back
/// end does (README: "An app back end that mints JWTs").
enum TestJWT {
    static let secret = "an-app-back-end-secret-of-32-bytes!"

    struct Claims: JWTPayload {
        var sub: SubjectClaim?
        var exp: ExpirationClaim?
        var nbf: NotBeforeClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func claims(_ subject: String, expires: TimeInterval = 600, notBefore: TimeInterval? = nil,
                       issuer: String? = nil, audience: String? = nil) -> Claims {
        Claims(sub: SubjectClaim(value: subject), exp: ExpirationClaim(value: Date().addingTimeInterval(expires)),
               nbf: notBefore.map { NotBeforeClaim(value: Date().addingTimeInterval($0)) },
               iss: issuer.map { IssuerClaim(value: $0) }, aud: audience.map { AudienceClaim(value: [$0]) })
    }

    /// HS256 with `secret`.
    static func hs256(_ claims: Claims, secret: String = TestJWT.secret) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    static func hs256(_ subject: String) async throws -> String { try await hs256(claims(subject)) }

    /// A token that says `alg: none` and has no signature.
    static func unsigned(_ claims: Claims) throws -> String {
        let header = Base64URL.encode(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let payload = Base64URL.encode(try JSONEncoder().encode(claims))
        return "\(header).\(payload)."
    }

    /// A key pair from the openssl CLI: (private PEM, public PEM).
    static func keyPair(_ algorithm: [String]) throws -> (String, String) {
        let privateKey = try openssl(["genpkey"] + algorithm)
        let publicKey = try openssl(["pkey", "-pubout"], input: privateKey)
        return (privateKey, publicKey)
    }

    static func rs256(_ claims: Claims, privateKey: String) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: privateKey), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    static func es256(_ claims: Claims, privateKey: String) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(pem: privateKey))
        return try await keys.sign(claims)
    }

    private static func openssl(_ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
