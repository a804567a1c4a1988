import Foundation
import Testing
@testable import StreamServer

/// The verifier against what an attacker sends: every refusal is a `Refusal` (401 on the
/// routes), and only a token with the configured algorithm, a good signature and good
/// claims gives a subject.
@Suite("JWT verification")
struct JWTVerifierTests {
    func refusal(_ verifier: JWTVerifier, _ token: String) async -> String? {
        do {
            _ = try await verifier.subject(of: token)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func hs256TokensAreCheckedForSignatureAlgorithmAndClaims() async throws {
        let verifier = try await JWTVerifier(key: .hmacSecret(TestJWT.secret),
                                             claims: .init(issuer: "https://app.example", audience: "vstream"))
        let good = TestJWT.claims("alice", issuer: "https://app.example", audience: "vstream")
        #expect(try await verifier.subject(of: try await TestJWT.hs256(good)) == "alice")

        let forged = try await TestJWT.hs256(good, secret: "another-secret-that-is-32-bytes-long")
        #expect(await refusal(verifier, forged)?.contains("signature") == true)
        #expect(await refusal(verifier, try TestJWT.unsigned(good))?.contains("algorithm none") == true)
        let expired = TestJWT.claims("alice", expires: -5, issuer: "https://app.example", audience: "vstream")
        #expect(await refusal(verifier, try await TestJWT.hs256(expired))?.contains("expired") == true)
        let early = TestJWT.claims("alice", notBefore: 300, issuer: "https://app.example", audience: "vstream")
        #expect(await refusal(verifier, try await TestJWT.hs256(early))?.contains("not valid yet") == true)
        let stranger = TestJWT.claims("alice", issuer: "https://evil.example", audience: "vstream")
        #expect(await refusal(verifier, try await TestJWT.hs256(stranger))?.contains("issuer") == true)
        let elsewhere = TestJWT.claims("alice", issuer: "https://app.example", audience: "another-service")
        #expect(await refusal(verifier, try await TestJWT.hs256(elsewhere))?.contains("not meant for vstream") == true)
        var endless = good
        endless.exp = nil
        #expect(await refusal(verifier, try await TestJWT.hs256(endless)) != nil, "exp is required")
        var anonymous = good
        anonymous.sub = nil
        #expect(await refusal(verifier, try await TestJWT.hs256(anonymous))?.contains("subject") == true)
        for garbage in ["", "a.b", "a.b.c", "...", String(repeating: "x", count: 5000), "eyJhbGciOiJIUzI1NiJ9.e30.x"] {
            #expect(await refusal(verifier, garbage) != nil, "\(garbage.prefix(20))")
        }
    }

    @Test func aPublicKeyTakesItsOwnAlgorithmOnly() async throws {
        let (rsaPrivate, rsaPublic) = try TestJWT.keyPair(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        let rsa = try await JWTVerifier(key: .publicKeyPEM(rsaPublic))
        #expect(rsa.algorithm == "RS256")
        let claims = TestJWT.claims("bob")
        #expect(try await rsa.subject(of: try await TestJWT.rs256(claims, privateKey: rsaPrivate)) == "bob")
        // The classic confusion: HS256 keyed with the public key, which anyone has.
        let confused = try await TestJWT.hs256(claims, secret: rsaPublic)
        #expect(await refusal(rsa, confused)?.contains("is not RS256") == true)
        #expect(await refusal(rsa, try TestJWT.unsigned(claims)) != nil)
        let (otherPrivate, _) = try TestJWT.keyPair(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        #expect(await refusal(rsa, try await TestJWT.rs256(claims, privateKey: otherPrivate))?.contains("signature") == true)

        let (ecPrivate, ecPublic) = try TestJWT.keyPair(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        let ec = try await JWTVerifier(key: .publicKeyPEM(ecPublic))
        #expect(ec.algorithm == "ES256")
        #expect(try await ec.subject(of: try await TestJWT.es256(claims, privateKey: ecPrivate)) == "bob")
        #expect(await refusal(ec, try await TestJWT.rs256(claims, privateKey: rsaPrivate))?.contains("is not ES256") == true)
    }

    @Test func unusableKeysStopTheServerWithAReason() async throws {
        await #expect(throws: ConfigurationError.self) { _ = try await JWTVerifier(key: .hmacSecret("short")) }
        await #expect(throws: ConfigurationError.self) { _ = try await JWTVerifier(key: .publicKeyPEM("not a key")) }
        #expect(throws: ConfigurationError.self) { _ = try APIKeys(pairs: "ops") }
        #expect(throws: ConfigurationError.self) { _ = try APIKeys(pairs: "ops:short") }
        #expect(throws: ConfigurationError.self) { _ = try APIKeys(pairs: "a:0123456789abcdef,a:fedcba9876543210") }
        let keys = try APIKeys(pairs: "ops:0123456789abcdef\n# a comment\nbackend:fedcba9876543210fedcba")
        #expect(keys.name(for: "fedcba9876543210fedcba") == "backend")
        #expect(keys.name(for: "0123456789abcdef") == "ops")
        #expect(keys.name(for: "0123456789abcdeF") == nil)
    }
}
