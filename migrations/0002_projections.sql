-- Read models: journeys and the call contexts inside them (architecture §4).
--
-- The tables live in a schema of their own, `projection`, so that `calltrail projections rebuild` can fill a
-- second one, `projection_next`, from position 0 while the service runs, and swap the two by renaming
-- schemas in one transaction.

-- How far the projector has read, written in the same transaction as the rows it produced, so a crash can
-- neither skip nor repeat an event. `clock` is the projector's latest event time (ended journeys stay
-- linkable for a while of event time); `generation` changes when a rebuild swaps the tables in, telling a
-- running projector to reload its state.
-- `state_version` is the version of the journey state's JSON the tables hold; a build that writes another
-- rebuilds them before projecting.
CREATE TABLE projection_checkpoints (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    clock timestamptz,
    generation integer NOT NULL DEFAULT 1,
    state_version integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projection_checkpoints (name, position) VALUES ('journeys', 0), ('journeys_rebuild', 0);

-- Creates the projection tables in schema `target` (projection or projection_next), replacing it. A rebuild
-- creates them without their secondary indexes and builds those once at the end (calltrail_index_projection_
-- tables): one sort per index is much cheaper than maintaining them row by row.
CREATE FUNCTION calltrail_create_projection_tables(target text, with_indexes boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF target NOT IN ('projection', 'projection_next') THEN
        RAISE EXCEPTION 'not a projection schema: %', target;
    END IF;
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', target);
    EXECUTE format('CREATE SCHEMA %I', target);
    -- One row per journey: the search columns, and the reducer's whole state of it as JSON.
    EXECUTE format($sql$
        CREATE TABLE %I.journeys (
            id text PRIMARY KEY,
            started_at timestamptz NOT NULL,
            ended_at timestamptz,
            outcome text,
            ani text,
            dnis text,
            vdn text,
            split text,
            agents text[] NOT NULL,
            devices text[] NOT NULL,
            last_position bigint NOT NULL,
            -- lz4: the state is a few kilobytes of JSON, and pglz compression was a visible part of a rebuild.
            state json COMPRESSION lz4 NOT NULL
        )$sql$, target);
    -- Any UCID of a journey (consultations and far-site legs included) finds it.
    EXECUTE format($sql$
        CREATE TABLE %I.journey_ucids (
            ucid text PRIMARY KEY,
            journey_id text NOT NULL
        )$sql$, target);
    IF with_indexes THEN
        PERFORM calltrail_index_projection_tables(target);
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO calltrail_app', target);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO calltrail_app', target);
    END IF;
END
$$;

CREATE FUNCTION calltrail_index_projection_tables(target text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF target NOT IN ('projection', 'projection_next') THEN
        RAISE EXCEPTION 'not a projection schema: %', target;
    END IF;
    -- Search pages in start order; equality filters narrow by index, device and agent through GIN.
    EXECUTE format('CREATE INDEX IF NOT EXISTS journeys_started ON %I.journeys (started_at, id)', target);
    EXECUTE format('CREATE INDEX IF NOT EXISTS journeys_ani ON %I.journeys (ani, started_at)', target);
    EXECUTE format('CREATE INDEX IF NOT EXISTS journeys_dnis ON %I.journeys (dnis, started_at)', target);
    EXECUTE format('CREATE INDEX IF NOT EXISTS journeys_devices ON %I.journeys USING gin (devices)', target);
    -- The open journeys: what the projector reloads, and where the calls now at a device are.
    EXECUTE format('CREATE INDEX IF NOT EXISTS journeys_open ON %I.journeys (ended_at) WHERE ended_at IS NULL', target);
    EXECUTE format('CREATE INDEX IF NOT EXISTS journeys_ended ON %I.journeys (ended_at)', target);
    EXECUTE format('CREATE INDEX IF NOT EXISTS journey_ucids_journey ON %I.journey_ucids (journey_id)', target);
    EXECUTE format('ANALYZE %I.journeys', target);
    EXECUTE format('ANALYZE %I.journey_ucids', target);
END
$$;

-- Swaps a finished rebuild in. The caller holds the 'journeys' checkpoint row lock, so no projector batch
-- runs in between; readers see the old tables or the new ones, never a mix.
CREATE FUNCTION calltrail_swap_projection_tables(rebuilt_position bigint, rebuilt_clock timestamptz, rebuilt_version integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    DROP SCHEMA IF EXISTS projection_old CASCADE;
    ALTER SCHEMA projection RENAME TO projection_old;
    ALTER SCHEMA projection_next RENAME TO projection;
    DROP SCHEMA projection_old CASCADE;
    UPDATE projection_checkpoints
    SET position = rebuilt_position, clock = rebuilt_clock, generation = generation + 1, state_version = rebuilt_version,
        updated_at = now()
    WHERE name = 'journeys';
    UPDATE projection_checkpoints SET position = 0, clock = NULL, updated_at = now() WHERE name = 'journeys_rebuild';
END
$$;

SELECT calltrail_create_projection_tables('projection');

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT SELECT, UPDATE ON projection_checkpoints TO calltrail_app;
        GRANT EXECUTE ON FUNCTION calltrail_create_projection_tables(text, boolean) TO calltrail_app;
        GRANT EXECUTE ON FUNCTION calltrail_index_projection_tables(text) TO calltrail_app;
        GRANT EXECUTE ON FUNCTION calltrail_swap_projection_tables(bigint, timestamptz, integer) TO calltrail_app;
    END IF;
END
$$;
