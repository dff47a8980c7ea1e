-- The audit (`GET /v1/audit`): who changed which user-data key when, tokens made and revoked, requests refused.
-- Its rows are events like any other; this index finds them by time without reading the rest of the log. Only
-- CallTrail's own (`known_type`): a client that posts an event with one of these names has it stored as an
-- unknown type, and it never shows in the audit.
CREATE INDEX event_bodies_audit ON event_bodies (time, ref)
    WHERE known_type
      AND type IN ('CALLTRAIL_USERDATA_SET', 'CALLTRAIL_USERDATA_REPLACED', 'CALLTRAIL_USERDATA_MERGED',
                   'CALLTRAIL_USERDATA_DELETED', 'CALLTRAIL_CALL_USERDATA_SET', 'CALLTRAIL_TOKEN_CREATED',
                   'CALLTRAIL_TOKEN_REVOKED', 'CALLTRAIL_ACCESS_REFUSED');
