-- Event bodies from an AES link carry the DMCC XML as AES sent it, and most pass the 2 KB beyond which PostgreSQL
-- compresses a value. pglz, the default, was a sixth of PostgreSQL's CPU while a link stored events
-- (`calltrail-bench link`); lz4, already used for the journeys' state, does the same work for a fraction of it.
-- It applies to bodies stored from now on; those stored before stay as they are, and read the same.
ALTER TABLE event_bodies ALTER COLUMN body SET COMPRESSION lz4;
