-- The user-data service (/v1/userdata): the projection of the CALLTRAIL_USERDATA_* and
-- CALLTRAIL_CALL_USERDATA_SET events. Each change is written in one transaction with its event, so the row and
-- the log never disagree; `calltrail projections rebuild` replays the events into these tables again.

-- A key's data now, or the data attached to a call (id 'call:<ucid>').
CREATE TABLE userdata (
    id text PRIMARY KEY,
    key text,
    -- The call the key was set on, or the call the data is attached to.
    ucid text,
    -- The application's JSON exactly as it was written (json keeps member order and numbers as written).
    data json NOT NULL,
    -- The call's customer data (original ANI/DNIS, VDN, split, digits, UUI) when the data was set.
    origin json NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    deleted_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX userdata_ucid ON userdata (ucid) WHERE ucid IS NOT NULL;

-- Which events made each row, in order: the history of a key is these positions in the log.
CREATE TABLE userdata_history (
    id text NOT NULL,
    version integer NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (id, version)
);

-- One transaction of user-data changes, in one call: under the log-head lock, the events go into the log (in
-- their UCID's stream when they name one) and the rows they made into `userdata` and `userdata_history`.
-- User-data events carry no callID, so none of the call bookkeeping of an ingest append applies; doing the
-- rest here instead of in eight statements is what lets a change take a few milliseconds. Returns the
-- position of the first event; the others follow in order.
CREATE FUNCTION calltrail_append_userdata(
    event_ids text[], event_types text[], event_times timestamptz[], event_ucids text[], event_texts text[],
    row_ids text[], row_keys text[], row_ucids text[], row_data text[], row_origins text[], row_created timestamptz[],
    row_updated timestamptz[], row_expires timestamptz[], row_deleted double precision[], row_versions integer[],
    event_records text[], event_versions integer[]
) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head bigint;
BEGIN
    SELECT h.last_position INTO head FROM event_log_head h FOR UPDATE;
    INSERT INTO event_bodies (ref, id, source, switch, seq, monitor, type, known_type, time, call_id, body)
    SELECT nextval('event_ref_seq'), e.id, 'calltrail', 'calltrail', NULL, NULL, e.type, true, e.time, NULL, e.body::json
    FROM unnest(event_ids, event_types, event_times, event_texts) AS e(id, type, time, body);
    INSERT INTO event_log (position, ref, ucid, stream_version)
    SELECT head + e.n, b.ref, NULLIF(e.ucid, ''),
           CASE WHEN e.ucid = '' THEN NULL
                ELSE coalesce(s.version, 0) + row_number() OVER (PARTITION BY e.ucid ORDER BY e.n) END
    FROM unnest(event_ids, event_ucids) WITH ORDINALITY AS e(id, ucid, n)
    JOIN event_bodies b ON b.id = e.id
    LEFT JOIN streams s ON s.ucid = e.ucid;
    INSERT INTO streams (ucid, version, first_position, last_position)
    SELECT l.ucid, max(l.stream_version), min(l.position), max(l.position)
    FROM event_log l WHERE l.position > head AND l.ucid IS NOT NULL GROUP BY l.ucid
    ON CONFLICT (ucid) DO UPDATE SET version = excluded.version, last_position = excluded.last_position;
    UPDATE event_log_head SET last_position = head + cardinality(event_ids);

    INSERT INTO userdata (id, key, ucid, data, origin, created_at, updated_at, expires_at, deleted_at, version)
    SELECT r.id, NULLIF(r.key, ''), NULLIF(r.ucid, ''), r.data::json, r.origin::json, r.created, r.updated, r.expires,
           CASE WHEN r.deleted < 0 THEN NULL ELSE to_timestamp(r.deleted) END, r.version
    FROM unnest(row_ids, row_keys, row_ucids, row_data, row_origins, row_created, row_updated, row_expires, row_deleted,
                row_versions) AS r(id, key, ucid, data, origin, created, updated, expires, deleted, version)
    ON CONFLICT (id) DO UPDATE SET
        data = excluded.data, origin = excluded.origin, updated_at = excluded.updated_at,
        expires_at = excluded.expires_at, deleted_at = excluded.deleted_at, version = excluded.version;
    INSERT INTO userdata_history (id, version, position)
    SELECT h.id, h.version, head + h.n FROM unnest(event_records, event_versions) WITH ORDINALITY AS h(id, version, n);
    RETURN head + 1;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON userdata, userdata_history TO calltrail_app;
        GRANT EXECUTE ON FUNCTION calltrail_append_userdata(text[], text[], timestamptz[], text[], text[], text[], text[],
            text[], text[], text[], timestamptz[], timestamptz[], timestamptz[], double precision[], integer[], text[],
            integer[]) TO calltrail_app;
    END IF;
END
$$;

-- What a rebuild of these tables reads: only the user-data events, not the whole log.
CREATE INDEX event_bodies_userdata ON event_bodies (ref)
    WHERE type IN ('CALLTRAIL_USERDATA_SET', 'CALLTRAIL_USERDATA_REPLACED', 'CALLTRAIL_USERDATA_MERGED',
                   'CALLTRAIL_USERDATA_DELETED', 'CALLTRAIL_CALL_USERDATA_SET');
