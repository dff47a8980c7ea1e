-- API tokens: who may use CallTrail's HTTP API and feed, with which scopes.
--
-- Only a SHA-256 digest of each secret is kept: the secret itself is printed once when the token is created. A
-- secret is 32 random bytes, so a digest is all an attacker with the table could start from, and it is no help.
-- A revoked token keeps its row (revoked_at), so the audit can still name it.
CREATE TABLE api_tokens (
    name text PRIMARY KEY,
    digest bytea NOT NULL UNIQUE,
    scopes text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT SELECT, INSERT, UPDATE ON api_tokens TO calltrail_app;
    END IF;
END
$$;
