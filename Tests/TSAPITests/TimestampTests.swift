import Foundation
import TSAPI
import Testing

@Suite("Timestamp")
struct TimestampTests {
    /// 2026-11-20T10:00:01Z, from `date -u -d 2026-11-20T10:00:01Z +%s`.
    static let base: Int64 = 1_795_168_801

    /// The instant in whole microseconds since 1970, so checks do not depend on Double rounding.
    static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    // MARK: parse: zones

    @Test func parsesUTCWithZ() throws {
        let date = try #require(Timestamp.parse("2026-11-20T10:00:01.250Z"))
        #expect(Self.micros(date) == Self.base * 1_000_000 + 250_000)
    }

    @Test func parsesLowercaseZ() throws {
        let date = try #require(Timestamp.parse("2026-11-20T10:00:01.250z"))
        #expect(Self.micros(date) == Self.base * 1_000_000 + 250_000)
    }

    @Test func acceptsLowercaseTAndSpaceAsSeparator() throws {
        let lower = try #require(Timestamp.parse("2026-11-20t10:00:01.250Z"))
        let space = try #require(Timestamp.parse("2026-11-20 10:00:01.250Z"))
        #expect(Self.micros(lower) == Self.base * 1_000_000 + 250_000)
        #expect(Self.micros(space) == Self.base * 1_000_000 + 250_000)
    }

    @Test func parsesPositiveOffset() throws {
        let date = try #require(Timestamp.parse("2026-11-20T12:00:01.250+02:00"))
        #expect(Self.micros(date) == Self.base * 1_000_000 + 250_000)
    }

    @Test func parsesNegativeHalfHourOffset() throws {
        let date = try #require(Timestamp.parse("2026-11-20T04:30:01.250-05:30"))
        #expect(Self.micros(date) == Self.base * 1_000_000 + 250_000)
    }

    @Test func offsetCanCrossMidnightAndYear() throws {
        // 2027-01-01T01:00:00+02:00 is 2026-12-31T23:00:00Z.
        let date = try #require(Timestamp.parse("2027-01-01T01:00:00+02:00"))
        #expect(Self.micros(date) == (1_798_761_599 - 3599) * 1_000_000)
    }

    @Test func zeroOffsetsEqualZ() throws {
        let plus = try #require(Timestamp.parse("2026-11-20T10:00:01+00:00"))
        let minus = try #require(Timestamp.parse("2026-11-20T10:00:01-00:00"))
        #expect(Self.micros(plus) == Self.base * 1_000_000)
        #expect(Self.micros(minus) == Self.base * 1_000_000)
    }

    // MARK: parse: fractions

    @Test func parsesWithoutFraction() throws {
        let date = try #require(Timestamp.parse("2026-11-20T10:00:01Z"))
        #expect(Self.micros(date) == Self.base * 1_000_000)
    }

    /// The fraction is kept to the microsecond (what PostgreSQL stores), rounding the 7th digit.
    @Test(
        arguments: [
            (".5", 500_000),
            (".25", 250_000),
            (".250", 250_000),
            (".1234", 123_400),
            (".12345", 123_450),
            (".123456", 123_456),
            (".1234564", 123_456),
            (".1234567", 123_457),
            (".12345678", 123_457),
            (".123456789", 123_457),
            (".000001", 1),
            (".0000004", 0),
        ] as [(String, Int64)])
    func parsesFractionsOfAnyLength(_ fraction: String, _ expectedMicros: Int64) throws {
        let date = try #require(Timestamp.parse("2026-11-20T10:00:01\(fraction)Z"))
        #expect(Self.micros(date) == Self.base * 1_000_000 + expectedMicros)
    }

    @Test func fractionCombinesWithOffset() throws {
        let date = try #require(Timestamp.parse("2026-11-20T04:30:01.123456-05:30"))
        #expect(Self.micros(date) == Self.base * 1_000_000 + 123_456)
    }

    @Test func fractionThatRoundsUpCarriesIntoTheNextSecond() throws {
        let date = try #require(Timestamp.parse("2026-11-20T10:00:01.9999999Z"))
        #expect(Self.micros(date) == (Self.base + 1) * 1_000_000)
    }

    // MARK: parse: calendar

    @Test func parsesLeapDays() throws {
        let leap2024 = try #require(Timestamp.parse("2024-02-29T00:00:00Z"))
        let leap2000 = try #require(Timestamp.parse("2000-02-29T12:00:00Z"))
        #expect(Self.micros(leap2024) == 1_709_164_800 * 1_000_000)
        #expect(Self.micros(leap2000) == 951_825_600 * 1_000_000)
    }

    @Test func parsesTheEpochAndTheEndOfAYear() throws {
        let epoch = try #require(Timestamp.parse("1970-01-01T00:00:00Z"))
        let newYearsEve = try #require(Timestamp.parse("1999-12-31T23:59:59Z"))
        #expect(epoch.timeIntervalSince1970 == 0)
        #expect(Self.micros(newYearsEve) == 946_684_799 * 1_000_000)
    }

    @Test(arguments: [
        "2026-13-20T10:00:01.250Z",  // month 13
        "2026-00-20T10:00:01.250Z",  // month 0
        "2026-02-30T10:00:01.250Z",  // Feb 30
        "2026-02-29T10:00:01.250Z",  // not a leap year
        "1900-02-29T10:00:01.250Z",  // century, not a leap year
        "2026-04-31T10:00:01.250Z",  // April has 30 days
        "2026-11-00T10:00:01.250Z",  // day 0
        "2026-11-32T10:00:01.250Z",
        "2026-11-20T24:00:01.250Z",  // hour 24
        "2026-11-20T10:60:01.250Z",  // minute 60
        "2026-11-20T10:00:01.250",  // no zone
        "2026-11-20T10:00:01",  // no zone, no fraction
        "2026-11-20T10:00:01.Z",  // empty fraction
        "2026-11-20T10:00:01.250+0200",  // offset without colon
        "2026-11-20T10:00:01.250+02",  // offset without minutes
        "2026-11-20T10:00:01.250+24:00",  // offset hour 24
        "2026-11-20T10:00:01.250+02:60",
        "2026-11-20T10:00:01.250Z ",  // trailing space
        "2026-11-20T10:00:01.250ZZ",
        " 2026-11-20T10:00:01.250Z",  // leading space
        "2026-11-20X10:00:01.250Z",  // bad separator
        "2026/11/20T10:00:01.250Z",
        "2026-11-20T10-00-01.250Z",
        "26-11-20T10:00:01.250Z",
        "2026-1-20T10:00:01.250Z",
        "2026-11-20T10:00:01,250Z",  // comma fraction
        "1795168801",  // epoch seconds
        "garbage",
        "not a timestamp at all, really",
        "",
    ])
    func rejectsInvalidText(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func parsesASubstring() throws {
        let text = "time=2026-11-20T10:00:01.250Z"
        let date = try #require(Timestamp.parse(text.dropFirst(5)))
        #expect(Self.micros(date) == Self.base * 1_000_000 + 250_000)
    }

    // MARK: format

    @Test func formatsUTCWithMilliseconds() {
        let date = Date(timeIntervalSince1970: Double(Self.base) + 0.25)
        #expect(Timestamp.format(date) == "2026-11-20T10:00:01.250Z")
    }

    @Test func formatHasTheRFC3339Shape() throws {
        let pattern = try Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#)
        for seconds in [0, 1, 59.5, 86_399.999, 951_825_600, 1_709_164_800.007, 1_795_168_801.25] as [Double] {
            let text = Timestamp.format(Date(timeIntervalSince1970: seconds))
            #expect(text.wholeMatch(of: pattern) != nil, "\(text)")
        }
    }

    @Test func formatsKnownInstants() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_825_600)) == "2000-02-29T12:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 955_721_139)) == "2000-04-14T14:05:39.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_798_761_599.5)) == "2026-12-31T23:59:59.500Z")
    }

    @Test func formatsInstantsBefore1970() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: -0.001)) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -86_400)) == "1969-12-31T00:00:00.000Z")
    }

    /// Every millisecond value must survive format(parse(text)), the form CallTrail writes and reads back.
    @Test func parseThenFormatRoundTripsEveryMillisecond() throws {
        var mismatches: [String] = []
        for millis in 0..<1000 {
            let digits = String(millis)
            let text = "2026-11-20T10:00:01." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
            let date = try #require(Timestamp.parse(text))
            let formatted = Timestamp.format(date)
            if formatted != text { mismatches.append("\(text) -> \(formatted)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) values: \(mismatches.prefix(5))")
    }

    /// An instant on an exact millisecond formats with that millisecond, whatever the era; Double cannot hold
    /// most of them exactly, so flooring the raw value can lose one (2004-01-11 and 2038-01-26 did).
    @Test(arguments: [0, 536_913_546, 1_073_827_092, 1_795_168_801, 2_148_148_040] as [Int64])
    func formatKeepsTheMillisecondOfExactInstants(_ seconds: Int64) {
        var mismatches: [String] = []
        for millis: Int64 in 0..<1000 {
            let text = Timestamp.format(Date(timeIntervalSince1970: Double(seconds * 1000 + millis) / 1000))
            let digits = String(millis)
            let expected = "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
            if !text.hasSuffix(expected) { mismatches.append("\(seconds * 1000 + millis) -> \(text)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) values: \(mismatches.prefix(5))")
    }

    @Test(arguments: ["2026-11-20T10:00:01", "2038-01-26T19:47:20"])
    func parseThenFormatRoundTripsInAnyEra(_ second: String) throws {
        var mismatches: [String] = []
        for millis in 0..<1000 {
            let digits = String(millis)
            let text = second + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
            let formatted = Timestamp.format(try #require(Timestamp.parse(text)))
            if formatted != text { mismatches.append("\(text) -> \(formatted)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) values: \(mismatches.prefix(5))")
    }

    @Test func formatThenParseKeepsTheMillisecond() throws {
        for millis: Int64 in [0, 1, 7, 123, 250, 499, 500, 999] {
            let instant = Self.base * 1000 + millis
            let date = Date(timeIntervalSince1970: Double(instant) / 1000)
            let parsed = try #require(Timestamp.parse(Timestamp.format(date)))
            #expect(Self.micros(parsed) == instant * 1000, "millis \(millis)")
        }
    }

    @Test func formatOfAnOffsetTimeIsInUTC() throws {
        let date = try #require(Timestamp.parse("2026-11-20T04:30:01.250-05:30"))
        #expect(Timestamp.format(date) == "2026-11-20T10:00:01.250Z")
    }
}
