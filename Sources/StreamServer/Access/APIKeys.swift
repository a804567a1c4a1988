import Crypto
import Foundation

/// Operators' and app back ends' keys: `VSTREAM_API_KEYS` (`name:secret,…`) or
/// `VSTREAM_API_KEYS_FILE` (one `name:secret` a line; `#` starts a comment). A key may
/// do everything. Secrets are kept as SHA-256 digests and compared in constant time, so
/// neither a secret's length nor its first wrong byte shows in the time of an answer.
public struct APIKeys: Sendable {
    struct Key: Sendable {
        var name: String
        var digest: Data
    }

    private let keys: [Key]

    public var isEmpty: Bool { keys.isEmpty }
    public var names: [String] { keys.map(\.name) }

    /// - Throws: `ConfigurationError` for a pair without a name or a secret, a secret
    ///   under 16 characters, or a name given twice.
    public init(pairs text: String) throws {
        var keys: [Key] = []
        let entries = text.split(whereSeparator: { $0 == "," || $0 == "\n" })
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        for entry in entries {
            guard let colon = entry.firstIndex(of: ":") else {
                throw ConfigurationError("an API key must be written name:secret")
            }
            let name = String(entry[..<colon]), secret = String(entry[entry.index(after: colon)...])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
                throw ConfigurationError("an API key's name must be letters, digits, '-', '_' or '.'")
            }
            guard secret.count >= 16 else { throw ConfigurationError("API key \(name): the secret must have at least 16 characters") }
            guard !keys.contains(where: { $0.name == name }) else { throw ConfigurationError("API key \(name) is given twice") }
            keys.append(Key(name: name, digest: Data(SHA256.hash(data: Data(secret.utf8)))))
        }
        self.keys = keys
    }

    public init() { keys = [] }

    /// The name of the key `secret` is, or nil. Every key is compared, whatever matches.
    func name(for secret: String) -> String? {
        let digest = Data(SHA256.hash(data: Data(secret.utf8)))
        var found: String?
        for key in keys where ConstantTime.equal(key.digest, digest) { found = key.name }
        return found
    }
}

/// A setting that cannot be used; `serve` and `worker` stop with its message.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
