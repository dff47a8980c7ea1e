import PostgresNIO

/// A prepared read of the rows after a position, at most `limit` of them: `$1` and `$2` of its SQL.
protocol RowsAfterStatement: PostgresPreparedStatement {
    var after: Int64 { get }
    var limit: Int64 { get }
}

extension RowsAfterStatement {
    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(after)
        bindings.append(limit)
        return bindings
    }
}
