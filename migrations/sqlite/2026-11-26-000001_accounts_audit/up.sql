-- People who curate, review, audit and administer. Roles are stored as a
-- sorted, space-separated list of words.
CREATE TABLE users (
    name TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Server-side sessions; only the SHA-256 of the id is kept.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_name TEXT NOT NULL REFERENCES users (name),
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);

-- API tokens for automation; only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    name TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);

-- Who made each edit, when, and the ETag of the published item it was made
-- against ('absent' when the item did not exist): approval refuses an edit
-- whose item another changeset has changed since.
ALTER TABLE changeset_edits ADD COLUMN seen TEXT NOT NULL DEFAULT 'absent';
ALTER TABLE changeset_edits ADD COLUMN edited_by TEXT NOT NULL DEFAULT '';
ALTER TABLE changeset_edits ADD COLUMN edited_at TEXT NOT NULL DEFAULT '';

-- The audit log: append only. `leaf` is the hex RFC 6962 leaf hash of the
-- canonical entry, kept to serve proofs; `vigil audit verify` recomputes it.
CREATE TABLE audit_entries (
    seq BIGINT PRIMARY KEY NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before TEXT,
    after TEXT,
    reason TEXT,
    summary TEXT,
    request_id TEXT,
    client TEXT,
    leaf TEXT NOT NULL
);
CREATE INDEX audit_entries_entity ON audit_entries (entity, entity_id);

-- Signed tree heads, in the C2SP signed-note format.
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY NOT NULL,
    root TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT NOT NULL
);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
