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

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON userdata, userdata_history TO calltrail_app;
    END IF;
END
$$;

-- What a rebuild of these tables reads: only the user-data events, not the whole log.
CREATE INDEX event_bodies_userdata ON event_bodies (ref)
    WHERE type IN ('CALLTRAIL_USERDATA_SET', 'CALLTRAIL_USERDATA_REPLACED', 'CALLTRAIL_USERDATA_MERGED',
                   'CALLTRAIL_USERDATA_DELETED', 'CALLTRAIL_CALL_USERDATA_SET');
