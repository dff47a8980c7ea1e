-- The serialised part of an append, made cheaper (issue: ingest at half the raw insert rate).

-- calltrail_lock_and_load, same contract as in 0001, reading by key. The 0001 body lets the planner join the
-- batch's keys to call_bindings and streams by hashing the whole table: a sequential scan of every stream ever
-- written, under the log-head lock, on every append (7 ms a transaction at 40,000 calls, growing with the
-- table). Each lookup here is a subquery the planner cannot pull up (OFFSET 0), so it stays one primary-key
-- probe per key whatever the statistics say, and the cost follows the batch, not the history.
CREATE OR REPLACE FUNCTION calltrail_lock_and_load(switches text[], call_ids bigint[], carried_ucids text[])
RETURNS TABLE (kind text, switch text, call_id bigint, ucid text, is_open boolean, number bigint, closed_at bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head bigint;
BEGIN
    SELECT h.last_position INTO head FROM event_log_head h FOR UPDATE;
    -- A new statement, so a new snapshot: it sees every append committed before the lock was granted.
    RETURN QUERY
    WITH k(switch, call_id) AS (SELECT * FROM unnest(switches, call_ids)),
         b AS MATERIALIZED (
             SELECT cb.* FROM k CROSS JOIN LATERAL (
                 SELECT * FROM call_bindings c WHERE c.switch = k.switch AND c.call_id = k.call_id OFFSET 0) cb)
    SELECT 'h'::text, NULL::text, NULL::bigint, NULL::text, NULL::boolean, head, NULL::bigint
    UNION ALL
    SELECT 'b', b.switch, b.call_id, b.ucid, b.is_open, b.bound_at, b.closed_at FROM b
    UNION ALL
    SELECT 'p', p.switch, p.call_id, NULL, NULL, p.position, NULL
    FROM k CROSS JOIN LATERAL (
        SELECT * FROM pending_events pe WHERE pe.switch = k.switch AND pe.call_id = k.call_id OFFSET 0) p
    UNION ALL
    SELECT 's', NULL, NULL, s.ucid, NULL, s.version::bigint, NULL
    FROM (SELECT unnest(carried_ucids) AS ucid UNION SELECT b.ucid FROM b) AS u CROSS JOIN LATERAL (
        SELECT * FROM streams st WHERE st.ucid = u.ucid OFFSET 0) s;
END
$$;
