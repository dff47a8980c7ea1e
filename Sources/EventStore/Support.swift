extension Duration {
    /// Whole nanoseconds, for swift-metrics timers.
    package var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Seconds as a Double, for reports.
    package var seconds: Double { Double(totalNanoseconds) / 1e9 }
}
