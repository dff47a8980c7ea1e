-- AES links: the devices added and removed at run time, and what each link's owner last reported.
--
-- link_devices: the effective devices of a link are the links file's, plus those added here (monitored), minus
-- those removed here (not monitored). A removal is kept as a row too, so a device of the file removed at run time
-- stays removed across restarts until it is added again.
CREATE TABLE link_devices (
    link text NOT NULL,
    extension text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('station', 'vdn')),
    monitored boolean NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (link, extension)
);

-- link_owners: one row per link, written by the process that holds the link's advisory lock (its owner) each
-- time the link's state changes, and read by the other processes to answer GET /v1/links for a link they do not
-- own.
CREATE TABLE link_owners (
    link text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    status jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'calltrail_app') THEN
        GRANT SELECT, INSERT, UPDATE ON link_devices, link_owners TO calltrail_app;
    END IF;
END
$$;
