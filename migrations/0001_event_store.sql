-- The event store: every TSAPI event, once, append-only, with a gapless global position (architecture §3).

-- One row whose lock serialises appends through commit and whose value is the last position handed out:
-- positions are gapless (a rollback reverts the counter) and become visible in order
-- (event-store-lessons §2.1, design A).
CREATE TABLE event_log_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_position bigint NOT NULL
);
INSERT INTO event_log_head (singleton, last_position) VALUES (true, 0);

-- An event is stored in two append-only tables, written in the same transaction: its body, inserted before
-- the log-head lock is taken so concurrent appends share that work, and its place in the log (position and
-- stream), written under the lock, which keeps the serialised part of an append small.
CREATE SEQUENCE event_ref_seq;

CREATE TABLE event_bodies (
    ref bigint PRIMARY KEY,
    id text NOT NULL,
    source text NOT NULL,
    switch text NOT NULL,
    seq bigint,
    monitor bigint,
    type text NOT NULL,
    -- false for a type the contract does not name: stored raw, flagged, ignored by projections.
    known_type boolean NOT NULL,
    time timestamptz NOT NULL,
    call_id bigint,
    -- The event object exactly as received (json keeps the text byte for byte).
    body json NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_id_unique UNIQUE (id)
);

CREATE TABLE event_log (
    position bigint PRIMARY KEY,
    ref bigint NOT NULL,
    -- The stream: the call's UCID, NULL while it is not known (a link event attaches the row later).
    ucid text,
    stream_version integer,
    CONSTRAINT event_log_stream_version_with_ucid CHECK ((ucid IS NULL) = (stream_version IS NULL))
);
CREATE UNIQUE INDEX event_log_stream ON event_log (ucid, stream_version) WHERE ucid IS NOT NULL;

-- What readers use: one row per stored event, in the log's terms.
CREATE VIEW events AS
SELECT l.position, b.id, b.source, b.switch, b.seq, b.monitor, b.type, b.known_type, b.time, l.ucid, l.stream_version,
       b.call_id, b.body, b.stored_at
FROM event_log l JOIN event_bodies b ON b.ref = l.ref;

-- Insert-only: keep the visibility map fresh for index-only scans (event-store-lessons §2.5).
ALTER TABLE event_bodies SET (autovacuum_vacuum_insert_scale_factor = 0.01);
ALTER TABLE event_log SET (autovacuum_vacuum_insert_scale_factor = 0.01);

-- The database itself refuses to rewrite history, whatever the role (the app role also lacks the privilege).
CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event store is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER event_bodies_append_only BEFORE UPDATE OR DELETE ON event_bodies
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER event_bodies_no_truncate BEFORE TRUNCATE ON event_bodies
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER event_log_append_only BEFORE UPDATE OR DELETE ON event_log
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER event_log_no_truncate BEFORE TRUNCATE ON event_log
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- Per-UCID stream version.
CREATE TABLE streams (
    ucid text PRIMARY KEY,
    version integer NOT NULL,
    first_position bigint NOT NULL,
    last_position bigint NOT NULL
);

-- (switch, callID) -> UCID, valid from the first UCID-bearing event until CallCleared (callIDs are reused).
CREATE TABLE call_bindings (
    switch text NOT NULL,
    call_id bigint NOT NULL,
    ucid text NOT NULL,
    is_open boolean NOT NULL,
    bound_at bigint NOT NULL,
    closed_at bigint,
    PRIMARY KEY (switch, call_id)
);

-- Events stored before their call's UCID was known, waiting for it.
CREATE TABLE pending_events (
    switch text NOT NULL,
    call_id bigint NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (switch, call_id, position)
);

-- Which earlier events a link event attached to a stream.
CREATE TABLE stream_links (
    ucid text NOT NULL,
    position bigint NOT NULL,
    link_position bigint NOT NULL,
    PRIMARY KEY (ucid, position)
);

-- The first step of every append, in one round trip: take the log-head lock (held until commit), then read,
-- with a snapshot taken after the lock was granted, what the appender needs to resolve the batch's streams:
-- the bindings and pending events of its (switch, callID)s and the versions of the streams it may write to.
CREATE FUNCTION calltrail_lock_and_load(switches text[], call_ids bigint[], carried_ucids text[])
RETURNS TABLE (kind text, switch text, call_id bigint, ucid text, is_open boolean, number bigint, closed_at bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head bigint;
BEGIN
    SELECT h.last_position INTO head FROM event_log_head h FOR UPDATE;
    -- A new statement, so a new snapshot: it sees every append committed before the lock was granted.
    RETURN QUERY
    WITH k(switch, call_id) AS (SELECT * FROM unnest(switches, call_ids)),
         b AS (SELECT cb.* FROM call_bindings cb JOIN k ON cb.switch = k.switch AND cb.call_id = k.call_id)
    SELECT 'h'::text, NULL::text, NULL::bigint, NULL::text, NULL::boolean, head, NULL::bigint
    UNION ALL
    SELECT 'b', b.switch, b.call_id, b.ucid, b.is_open, b.bound_at, b.closed_at FROM b
    UNION ALL
    SELECT 'p', p.switch, p.call_id, NULL, NULL, p.position, NULL
    FROM pending_events p JOIN k ON p.switch = k.switch AND p.call_id = k.call_id
    UNION ALL
    SELECT 's', NULL, NULL, s.ucid, NULL, s.version::bigint, NULL
    FROM (SELECT unnest(carried_ucids) AS ucid UNION SELECT b.ucid FROM b) AS u JOIN streams s ON s.ucid = u.ucid;
END
$$;

-- The application role: may read and append events, never change them. Created when the migrating user may
-- create roles; the service then works as this role.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        IF (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            BEGIN
                CREATE ROLE calltrail_app NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- another database of this cluster created it at the same moment
            END;
        END IF;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT SELECT, INSERT ON event_bodies, event_log TO calltrail_app;
        REVOKE UPDATE, DELETE, TRUNCATE ON event_bodies, event_log FROM calltrail_app;
        GRANT SELECT ON events TO calltrail_app;
        GRANT USAGE ON SEQUENCE event_ref_seq TO calltrail_app;
        GRANT SELECT, UPDATE ON event_log_head TO calltrail_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON streams, call_bindings, pending_events, stream_links TO calltrail_app;
        IF NOT pg_has_role(current_user, 'calltrail_app', 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT calltrail_app TO %I', current_user);
            EXCEPTION WHEN OTHERS THEN
                RAISE NOTICE 'could not grant calltrail_app to %: %', current_user, SQLERRM;
            END;
        END IF;
    END IF;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT SELECT ON calltrail_migrations TO calltrail_app;
    END IF;
END
$$;
