import Foundation
import TSAPI
import Testing

/// The key format: short, unguessable, and found wherever a UUI can carry it, and nowhere else.
struct UserDataKeyTests {
    /// A generator with a fixed sequence, so a failure names the key it made.
    struct Counter: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    @Test func keysAreTwentyCharactersOfTheAlphabetAndReadBack() throws {
        var generator = Counter(state: 7)
        var seen = Set<String>()
        for _ in 0..<2_000 {
            let key = UserDataKey.random(using: &generator)
            #expect(key.rawValue.count == 20)
            #expect(key.rawValue.hasPrefix("CT"))
            #expect(key.rawValue.utf8.allSatisfy { "0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8.contains($0) })
            #expect(try UserDataKey(validating: key.rawValue) == key)
            #expect(UserDataKey(key.rawValue.lowercased()) == key)
            seen.insert(key.rawValue)
        }
        #expect(seen.count == 2_000)
    }

    /// Every one of the 80 random bits reaches the key: flipping any bit of the generator's output changes it.
    @Test func eightyRandomBitsReachTheKey() {
        struct Fixed: RandomNumberGenerator {
            var values: [UInt64]
            mutating func next() -> UInt64 { values.removeFirst() }
        }
        var base = Fixed(values: [0, 0])
        let zero = UserDataKey.random(using: &base)
        var keys = Set([zero.rawValue])
        for bit in 0..<64 {
            var high = Fixed(values: [1 << UInt64(bit), 0])
            keys.insert(UserDataKey.random(using: &high).rawValue)
        }
        for bit in 0..<16 {
            var low = Fixed(values: [0, 1 << UInt64(bit)])
            keys.insert(UserDataKey.random(using: &low).rawValue)
        }
        #expect(keys.count == 81)
    }

    /// A typo is malformed (400), not an unknown key (404): every single wrong character is caught.
    @Test func everySingleSubstitutionIsRejected() throws {
        let key = UserDataKey.random().rawValue
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var characters = Array(key)
        for index in 2..<20 {
            let original = characters[index]
            for replacement in alphabet where replacement != original {
                characters[index] = replacement
                #expect(UserDataKey(String(characters)) == nil, "\(String(characters)) passed as a key")
            }
            characters[index] = original
        }
    }

    /// The README's and the doc comment's example is a key.
    @Test func theDocumentedExampleIsAKey() {
        #expect(UserDataKey("CT6Q9ZP4M2XK7RB1TDTP")?.hex == "43543651395A50344D32584B3752423154445450")
    }

    @Test func malformedKeysSayWhatIsWrong() {
        let key = UserDataKey.random().rawValue
        func reason(_ text: String) -> String? {
            do {
                _ = try UserDataKey(validating: text)
                return nil
            } catch {
                return error.message.components(separatedBy: "): ").last
            }
        }
        #expect(reason(String(key.dropLast())) == "it has 19 characters, not 20")
        #expect(reason("XX" + key.dropFirst(2)) == "it does not start with CT")
        #expect(reason("CTU" + key.dropFirst(3))?.contains("character 3") == true)
        #expect(reason(key) == nil)
    }

    @Test func foundInsideOtherUUIText() {
        let key = UserDataKey.random()
        for text in [
            "ACCT=1;CT=\(key)", "\(key)", "ACCT=998877;LANG=FR;\(key)", "\(key.rawValue.lowercased());X=1",
            "ACCT\(key)9",
        ] {
            #expect(UserDataKey.find(in: UserToUserInfo(type: "UUI_IA5_ASCII", data: text)) == [key], "\(text)")
        }
    }

    @Test func foundInUserSpecificHex() {
        let key = UserDataKey.random()
        let ascii = Array("ACCT=1;\(key)".utf8)
        let hex = ([0x04] + ascii).map { String(format: "%02X", $0) }.joined()
        #expect(UserDataKey.find(in: UserToUserInfo(type: "UUI_USER_SPECIFIC", data: hex)) == [key])
        #expect(UserDataKey.find(in: UserToUserInfo(type: "UUI_USER_SPECIFIC", data: hex.lowercased())) == [key])
        #expect(UserDataKey.find(in: UserToUserInfo(type: "UUI_USER_SPECIFIC", data: key.hex)) == [key])
    }

    /// Avaya shared UUI: items of (tag, length, value) after the protocol discriminator, the UCID item `FA 08`
    /// beside the ASAI user-data item that holds the key; as TSAPI hex and as a SIP `User-to-User` value.
    @Test func foundInSharedUUI() {
        let key = UserDataKey.random()
        let asai = Array("ACCT=1;\(key)".utf8)
        let ucidItem: [UInt8] = [0xFA, 0x08, 0x00, 0x19, 0x00, 0x10, 0x38, 0xF7, 0x25, 0xB3]
        let items: [UInt8] = ucidItem + [0xC8, UInt8(asai.count)] + asai
        let hex = items.map { String(format: "%02X", $0) }.joined()
        #expect(UserDataKey.find(in: UserToUserInfo(type: "UUI_USER_SPECIFIC", data: "04" + hex)) == [key])
        #expect(
            UserDataKey.find(in: UserToUserInfo(type: "UUI_IA5_ASCII", data: "00" + hex + ";encoding=hex")) == [key])
    }

    @Test func twoKeysInOneUUIAreBothFoundOnce() {
        let first = UserDataKey.random()
        let second = UserDataKey.random()
        #expect(UserDataKey.find(inText: "\(first);\(second);\(first)") == [first, second])
    }

    /// Text that only looks like a key is not one: no key is invented from UUI that holds none.
    @Test func noKeyInTextThatHasNone() {
        var generator = Counter(state: 99)
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
        var invented = 0
        for _ in 0..<20_000 {
            let tail = (0..<18).map { _ in alphabet[Int(generator.next() % 32)] }
            if !UserDataKey.find(inText: "CT" + String(decoding: tail, as: UTF8.self)).isEmpty { invented += 1 }
        }
        // The ten check bits let about one random candidate in 1,024 through.
        #expect(invented < 60)
        for text in [
            "ACCT=998877;LANG=FR", "", "CT", "00FA080019001038F725B3;encoding=hex", String(repeating: "CT", count: 40),
        ] {
            #expect(UserDataKey.find(inText: text).isEmpty, "\(text)")
        }
    }
}

/// RFC 7396's own examples (appendix A), which `PATCH /v1/userdata/{key}` follows.
struct JSONMergePatchTests {
    static let cases: [(String, String, String)] = [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, "null", "null"),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ]

    @Test func rfc7396Examples() throws {
        for (target, patch, result) in Self.cases {
            let merged = try JSONTree(parsing: target).merged(with: try JSONTree(parsing: patch))
            #expect(merged.text == result, "\(target) + \(patch)")
        }
    }

    @Test func numbersKeepTheirDigits() throws {
        let text = #"{"acct":12345678901234567890,"rate":0.1,"n":-3e5,"s":"\u00e9\"","t":true}"#
        let tree = try JSONTree(parsing: text)
        #expect(tree.text == #"{"acct":12345678901234567890,"rate":0.1,"n":-3e5,"s":"é\"","t":true}"#)
        let encoded = String(decoding: try JSONEncoder().encode(tree), as: UTF8.self)
        #expect(encoded.contains("12345678901234567890"))
    }

    @Test func notJSONNamesTheOffset() {
        #expect(throws: TSAPIError.self) { try JSONTree(parsing: #"{"a":1"#) }
        #expect(throws: TSAPIError.self) { try JSONTree(parsing: "{} x") }
    }
}
