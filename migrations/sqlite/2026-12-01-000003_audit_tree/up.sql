-- The audit log's Merkle tree, stored: the root of every complete subtree
-- of 2^level leaves (level >= 1; the leaves are audit_entries.leaf), at
-- position idx (it covers entries idx * 2^level + 1 to (idx + 1) * 2^level).
-- A checkpoint's root and a proof read O(log n) of them. Derived from the
-- entries: written after them (by the checkpoint that covers them; an
-- existing log is filled in at start), never changed, and recomputed from
-- the entries by `vigil audit verify`, which does not trust them.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'the audit tree is append-only'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'the audit tree is append-only'); END;

-- The verifications the panel ran, numbered from 1: up to which tree size the log was found
-- to hold (or not), so that the next visit verifies only what is new.
-- `full`: every entry was read; else those after the previous verification.
-- `problems`: a JSON array of what did not hold, empty when all held.
CREATE TABLE audit_verifications (
    id BIGINT PRIMARY KEY NOT NULL,
    size BIGINT NOT NULL,
    root TEXT NOT NULL,
    verified_at TEXT NOT NULL,
    full_check BOOLEAN NOT NULL,
    problems TEXT NOT NULL
);

-- The log's pages, newest first, by actor or action.
CREATE INDEX audit_entries_actor ON audit_entries (actor, seq);
CREATE INDEX audit_entries_action ON audit_entries (action, seq);
