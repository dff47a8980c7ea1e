import EventStore
import Testing

struct SQLStatementSplitterTests {
    @Test func splitsAtTopLevelSemicolonsOnly() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'semi;colon', "we;ird" int);
            /* block; comment */ INSERT INTO a VALUES ('it''s; fine', 1);
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'no; way';
            END
            $$;
            DO $body$ BEGIN PERFORM 1; END $body$;
            SELECT $1::int;
            """
        let statements = SQLStatementSplitter.split(sql)
        #expect(statements.count == 5)
        #expect(statements[0].hasSuffix("\"we;ird\" int)"))
        #expect(statements[1].contains("'it''s; fine'"))
        #expect(statements[2].contains("RAISE EXCEPTION 'no; way';"))
        #expect(statements[2].hasSuffix("$$"))
        #expect(statements[3] == "DO $body$ BEGIN PERFORM 1; END $body$")
        #expect(statements[4] == "SELECT $1::int")
    }

    @Test func dropsEmptyAndCommentOnlyStatements() {
        #expect(SQLStatementSplitter.split(";;\n-- only a comment\n;  ") == [])
        #expect(SQLStatementSplitter.split("SELECT 1") == ["SELECT 1"])
    }
}
