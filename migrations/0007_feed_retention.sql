-- Feed retention. Feed messages are derived (the projector makes them from the log) and serve desktops that
-- resume after a disconnect: they need not be kept forever, and at about 4 KB a call they would grow without
-- end. The oldest are removed as a prefix of positions, and feed_head.trimmed_through says how far, so that a
-- subscriber asking to resume from before it is refused rather than silently missing messages. The app role
-- still may not DELETE from the feed: it trims only through this function.
ALTER TABLE feed_head ADD COLUMN trimmed_through bigint NOT NULL DEFAULT 0;

-- Removes, from the oldest, up to `batch` messages whose time is before `older_than` (with any newer ones among
-- them: the removed part is always a prefix), and returns how many it removed. Called again while it returns
-- `batch`. Concurrent calls take turns on an advisory lock; feed_head's row is locked only for the last
-- statement, so the projector's commits wait for no more than that.
CREATE FUNCTION calltrail_trim_feed(older_than timestamptz, batch integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    trimmed bigint;
    through bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('calltrail_trim_feed'));
    SELECT h.trimmed_through INTO trimmed FROM feed_head h;
    SELECT max(oldest.position) INTO through FROM (
        SELECT m.position, m.time FROM feed_messages m WHERE m.position > trimmed ORDER BY m.position LIMIT batch
    ) oldest WHERE oldest.time < older_than;
    IF through IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM feed_messages WHERE position > trimmed AND position <= through;
    UPDATE feed_head SET trimmed_through = through;
    RETURN through - trimmed;
END
$$;

-- A definer's function runs with its owner's rights: nobody but the app role may call it.
REVOKE EXECUTE ON FUNCTION calltrail_trim_feed(timestamptz, integer) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT EXECUTE ON FUNCTION calltrail_trim_feed(timestamptz, integer) TO calltrail_app;
    END IF;
END
$$;
