-- The feed's latency: from an event's POST to its feed message.
--
-- A projector batch commits in one statement.
--
-- Until now a batch was a transaction of seven round trips: BEGIN, the checkpoint check, the journeys, their
-- UCIDs, the feed messages, the checkpoint, COMMIT. Each one waits for the other side to be scheduled, and on
-- two busy cores that was most of the 6 ms between an event's commit and its feed message. This function does
-- the same work in one call.
--
-- It also commits asynchronously (synchronous_commit off, for this transaction only). Everything it writes is
-- derived from the event log, and the log's own commits stay synchronous. If PostgreSQL crashes, it can lose
-- its last few hundred milliseconds of projection commits. It loses them whole: the checkpoint goes back with
-- the rows. The projector then projects those events again from the log, and the feed gives those positions
-- again to the messages of the same events. A batch therefore never waits for a WAL flush. On this project's machine a
-- flush sometimes took 200 ms when the kernel wrote back its dirty pages, and every offer behind it waited.

-- Returns NULL when the batch is written. When the checkpoint no longer says expected_position and
-- expected_generation (another projector wrote, or a rebuild was swapped in), it writes nothing and returns the
-- position it found: the caller reloads. `ended` is seconds since 1970, or -1 for a journey still going on;
-- `agents` and `devices` are joined with U+001F (client arrays cannot hold NULL or nested arrays).
CREATE FUNCTION calltrail_commit_projection(
    target text, expected_position bigint, expected_generation bigint, through bigint, through_clock timestamptz,
    removed text[],
    ids text[], started timestamptz[], ended double precision[], outcomes text[], anis text[], dnises text[],
    vdns text[], splits text[], agents text[], devices text[], last_positions bigint[], states text[],
    ucids text[], ucid_journeys text[],
    feed_event_positions bigint[], feed_kinds text[], feed_devices text[], feed_ucids text[], feed_journey_ids text[],
    feed_times timestamptz[], feed_bodies text[]
) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    checkpoint_name text;
    found_position bigint;
    found_generation bigint;
BEGIN
    IF target = 'projection' THEN
        checkpoint_name := 'journeys';
    ELSIF target = 'projection_next' THEN
        checkpoint_name := 'journeys_rebuild';
    ELSE
        RAISE EXCEPTION 'not a projection schema: %', target;
    END IF;
    SELECT c.position, c.generation INTO found_position, found_generation
    FROM projection_checkpoints c WHERE c.name = checkpoint_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the projection checkpoint % is missing: the database was not migrated by CallTrail', checkpoint_name;
    END IF;
    IF found_position <> expected_position OR found_generation <> expected_generation THEN
        RETURN found_position;
    END IF;
    PERFORM set_config('synchronous_commit', 'off', true);

    IF cardinality(removed) > 0 THEN
        EXECUTE format('DELETE FROM %I.journeys WHERE id = ANY($1)', target) USING removed;
    END IF;
    IF cardinality(ids) > 0 THEN
        EXECUTE format($sql$
            INSERT INTO %1$I.journeys
                (id, started_at, ended_at, outcome, ani, dnis, vdn, split, agents, devices, last_position, state)
            SELECT id, started, CASE WHEN ended < 0 THEN NULL ELSE to_timestamp(ended) END, NULLIF(outcome, ''),
                   NULLIF(ani, ''), NULLIF(dnis, ''), NULLIF(vdn, ''), NULLIF(split, ''),
                   string_to_array(agents, E'\x1f'), string_to_array(devices, E'\x1f'), last_position, state::json
            FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                AS r(id, started, ended, outcome, ani, dnis, vdn, split, agents, devices, last_position, state)
            ON CONFLICT (id) DO UPDATE SET
                started_at = excluded.started_at, ended_at = excluded.ended_at, outcome = excluded.outcome,
                ani = excluded.ani, dnis = excluded.dnis, vdn = excluded.vdn, split = excluded.split,
                agents = excluded.agents, devices = excluded.devices, last_position = excluded.last_position,
                state = excluded.state
            $sql$, target)
        USING ids, started, ended, outcomes, anis, dnises, vdns, splits, agents, devices, last_positions, states;
        EXECUTE format($sql$
            INSERT INTO %1$I.journey_ucids AS u (ucid, journey_id)
            SELECT * FROM unnest($1, $2)
            ON CONFLICT (ucid) DO UPDATE SET journey_id = excluded.journey_id
            WHERE u.journey_id <> excluded.journey_id
            $sql$, target)
        USING ucids, ucid_journeys;
    END IF;
    -- The feed follows the live tables only: a rebuild hands its last messages to the swap instead.
    IF target = 'projection' THEN
        PERFORM calltrail_append_feed(through, feed_event_positions, feed_kinds, feed_devices, feed_ucids,
            feed_journey_ids, feed_times, feed_bodies);
    END IF;
    UPDATE projection_checkpoints SET position = through, clock = through_clock, updated_at = now()
    WHERE name = checkpoint_name;
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT EXECUTE ON FUNCTION calltrail_commit_projection(text, bigint, bigint, bigint, timestamptz, text[], text[],
            timestamptz[], double precision[], text[], text[], text[], text[], text[], text[], text[], bigint[], text[],
            text[], text[], bigint[], text[], text[], text[], text[], timestamptz[], text[]) TO calltrail_app;
    END IF;
END
$$;

-- The appends' wake-up now carries the log's last position (a row trigger: event_log_head has one row). The
-- projector in the appending process is woken by its appender directly, and skips the notification that
-- follows for events it has already projected.
CREATE OR REPLACE FUNCTION calltrail_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('calltrail_events', NEW.last_position::text);
    RETURN NULL;
END
$$;
DROP TRIGGER event_log_head_notify ON event_log_head;
CREATE TRIGGER event_log_head_notify AFTER UPDATE ON event_log_head
    FOR EACH ROW EXECUTE FUNCTION calltrail_notify_events();

-- An append draws its body refs without a round trip: a process takes a block of 1024 refs with one nextval
-- (PostgresEventStore's RefBlocks) and hands them out until the block is used up. A draw that takes a single
-- ref (the careful path, calltrail_append_userdata) stays unique, because every nextval starts a block of its
-- own. The increment must stay equal to RefBlocks.size.
ALTER SEQUENCE event_ref_seq INCREMENT BY 1024;
