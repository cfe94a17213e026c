-- Review you can trust.
-- A changeset's revision goes up with every edit and transition; an
-- approval names the revision the reviewer saw.
ALTER TABLE changesets ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
-- Everyone who ever wrote any part of a changeset, as a JSON array of
-- people (`user:<name>`, or `cli:<os user>` for the command line); it only
-- grows. Backfilled from the author and the edits' writers.
ALTER TABLE changesets ADD COLUMN writers TEXT NOT NULL DEFAULT '[]';
UPDATE changesets SET writers = (
    SELECT json_group_array(w) FROM (
        SELECT author AS w FROM changesets AS c2 WHERE c2.id = changesets.id
        UNION
        SELECT edited_by FROM changeset_edits
        WHERE changeset_edits.changeset_id = changesets.id AND edited_by <> ''
        ORDER BY 1
    )
);
-- The person a token acts for: its edits count as theirs, and disabling
-- them revokes it. NULL for a token made at the command line without one.
ALTER TABLE api_tokens ADD COLUMN owner TEXT;
UPDATE api_tokens SET owner = substr(created_by, 6) WHERE created_by LIKE 'user:%';
-- The client's own X-Request-Id, kept apart from vigil's unique request id.
ALTER TABLE audit_entries ADD COLUMN client_request_id TEXT;
-- User names are unique without regard to case.
CREATE UNIQUE INDEX users_name_nocase ON users (lower(name));
