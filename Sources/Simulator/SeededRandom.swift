import Foundation

/// SplitMix64: a small, fast generator whose sequence depends only on its seed, so a simulation is reproducible.
package struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An exponentially distributed wait with the given mean (Poisson arrivals have such gaps).
    package mutating func exponential(mean: Double) -> Double {
        let u = Double.random(in: Double.ulpOfOne..<1, using: &self)
        return -mean * log(u)
    }

    /// A duration around `mean` seconds, never below `minimum`.
    package mutating func duration(mean: Double, minimum: Double = 1) -> Double {
        max(minimum, exponential(mean: mean))
    }
}
