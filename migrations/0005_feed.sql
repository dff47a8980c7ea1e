-- The feed (architecture §6): the messages desktops and CRMs subscribe to, with positions of their own.
--
-- The projector makes them from the events it applies and stores them in the same transaction as the journeys
-- and its checkpoint, so a commit makes read models and feed messages visible together. Positions are given
-- under the feed_head row lock, in commit order and without gaps: a reader that has seen every position up to
-- P and reads "after P" misses nothing, which is what lets a subscriber resume with `after`.

-- The last position given, and the last event whose messages are stored. A batch projected again (after a
-- rebuild is swapped in, or a projector restarted from an older checkpoint) adds nothing for events at or
-- below event_position: a subscriber never gets a message twice.
CREATE TABLE feed_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position bigint NOT NULL,
    event_position bigint NOT NULL
);
INSERT INTO feed_head (singleton, position, event_position) VALUES (true, 0, 0);

CREATE TABLE feed_messages (
    position bigint PRIMARY KEY,
    event_position bigint NOT NULL,
    kind text NOT NULL,
    device text NOT NULL,
    ucid text,
    journey_id text NOT NULL,
    time timestamptz NOT NULL,
    -- FeedMessage.storedJSON: the message without its user data, which is read when it is sent.
    body text NOT NULL
);
-- A device's latest messages: ctiSVR's `userdata` `hangup` request asks for the call that last left a station.
CREATE INDEX feed_messages_device ON feed_messages (device, position);

-- Appends one projector batch's messages, skipping those of events already fed, and wakes every process's
-- feed (LISTEN calltrail_feed; the payload is the new last position). Returns the last position.
CREATE FUNCTION calltrail_append_feed(
    through bigint, event_positions bigint[], kinds text[], devices text[], ucids text[], journey_ids text[],
    times timestamptz[], bodies text[]
) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_position bigint;
    head_event bigint;
    added bigint;
BEGIN
    SELECT h.position, h.event_position INTO head_position, head_event FROM feed_head h FOR UPDATE;
    INSERT INTO feed_messages (position, event_position, kind, device, ucid, journey_id, time, body)
    SELECT head_position + row_number() OVER (ORDER BY r.n), r.event_position, r.kind, r.device, NULLIF(r.ucid, ''),
           r.journey_id, r.time, r.body
    FROM unnest(event_positions, kinds, devices, ucids, journey_ids, times, bodies)
        WITH ORDINALITY AS r(event_position, kind, device, ucid, journey_id, time, body, n)
    WHERE r.event_position > head_event;
    GET DIAGNOSTICS added = ROW_COUNT;
    UPDATE feed_head SET position = head_position + added, event_position = greatest(head_event, through);
    IF added > 0 THEN
        PERFORM pg_notify('calltrail_feed', (head_position + added)::text);
    END IF;
    RETURN head_position + added;
END
$$;

-- Every append moves event_log_head: this wakes the projector (LISTEN calltrail_events) in whichever process
-- holds it, at once rather than at its next poll. One notification per transaction, sent at commit.
CREATE FUNCTION calltrail_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('calltrail_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER event_log_head_notify AFTER UPDATE ON event_log_head
    FOR EACH STATEMENT EXECUTE FUNCTION calltrail_notify_events();

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        -- Like the log, the feed is only ever added to.
        GRANT SELECT, INSERT ON feed_messages TO calltrail_app;
        GRANT SELECT, UPDATE ON feed_head TO calltrail_app;
        GRANT EXECUTE ON FUNCTION calltrail_append_feed(bigint, bigint[], text[], text[], text[], text[], timestamptz[],
            text[]) TO calltrail_app;
    END IF;
END
$$;
