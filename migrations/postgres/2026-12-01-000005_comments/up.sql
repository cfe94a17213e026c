-- A changeset's comments as a thread: every comment kept, with its author,
-- its time and the step it came with; never overwritten. Backfilled from
-- the one comment each changeset kept until now.
CREATE TABLE changeset_comments (
    id BIGSERIAL PRIMARY KEY,
    changeset_id BIGINT NOT NULL REFERENCES changesets (id),
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX changeset_comments_changeset ON changeset_comments (changeset_id, id);
INSERT INTO changeset_comments (changeset_id, author, at, action, body)
SELECT id, COALESCE(reviewer, author), updated_at, state, comment
FROM changesets WHERE comment IS NOT NULL AND comment <> '' ORDER BY id;
