-- A source's own message, exactly as it sent it, kept beside the event CallTrail made of it: an AES link's DMCC
-- XML. In a column of its own rather than as a string inside the event's JSON, it is stored once, as text, and
-- never escaped, validated as JSON or read by the projections, which need only the event; the API shows it in the
-- event as `dmcc`. NULL for events that came as JSON (HTTP ingest).
ALTER TABLE event_bodies ADD COLUMN source_message text COMPRESSION lz4;

-- lz4 rather than pglz for bodies that pass the 2 KB beyond which PostgreSQL compresses a value, as for the
-- journeys' state: pglz was a sixth of PostgreSQL's CPU while a link stored events (`calltrail-bench link`). It
-- applies to values stored from now on; those stored before read the same.
ALTER TABLE event_bodies ALTER COLUMN body SET COMPRESSION lz4;

CREATE OR REPLACE VIEW events AS
SELECT l.position, b.id, b.source, b.switch, b.seq, b.monitor, b.type, b.known_type, b.time, l.ucid, l.stream_version,
       b.call_id, b.body, b.stored_at, b.source_message
FROM event_log l JOIN event_bodies b ON b.ref = l.ref;
