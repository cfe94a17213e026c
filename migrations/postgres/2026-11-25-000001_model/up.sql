-- One row; every write transaction bumps it first, which serialises writers
-- (on SQLite it takes the write lock at once instead of upgrading later).
CREATE TABLE vigil_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO vigil_lock (id, generation) VALUES (1, 0);

CREATE TABLE events (
    slug TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    location TEXT NOT NULL,
    started_on TEXT NOT NULL,
    ended_on TEXT NOT NULL,
    timezone TEXT NOT NULL,
    summary TEXT NOT NULL
);

CREATE TABLE sources (
    event TEXT NOT NULL REFERENCES events (slug),
    key TEXT NOT NULL,
    title TEXT NOT NULL,
    author TEXT NOT NULL,
    publisher TEXT NOT NULL,
    kind TEXT NOT NULL,
    published_on TEXT,
    url TEXT NOT NULL,
    notes TEXT NOT NULL,
    PRIMARY KEY (event, key)
);

CREATE TABLE figures (
    event TEXT NOT NULL REFERENCES events (slug),
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    unit TEXT NOT NULL,
    parent TEXT,
    breakdown TEXT,
    position BIGINT NOT NULL,
    low BIGINT,
    best BIGINT,
    high BIGINT,
    status TEXT NOT NULL,
    notes TEXT NOT NULL,
    PRIMARY KEY (event, key)
);

CREATE TABLE claims (
    event TEXT NOT NULL REFERENCES events (slug),
    id TEXT NOT NULL,
    figure TEXT NOT NULL,
    source TEXT NOT NULL,
    low BIGINT,
    best BIGINT,
    high BIGINT,
    as_of TEXT NOT NULL,
    rank TEXT NOT NULL,
    reason TEXT,
    locator TEXT NOT NULL,
    quote TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (event, id)
);

CREATE TABLE rules (
    event TEXT NOT NULL REFERENCES events (slug),
    id TEXT NOT NULL,
    expression TEXT NOT NULL,
    severity TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (event, id)
);

CREATE TABLE changesets (
    id BIGSERIAL PRIMARY KEY,
    event TEXT NOT NULL REFERENCES events (slug),
    base_version BIGINT NOT NULL,
    author TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL,
    reviewer TEXT,
    comment TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One edit per item: the item as it should be (JSON), or NULL to delete it.
CREATE TABLE changeset_edits (
    changeset_id BIGINT NOT NULL REFERENCES changesets (id),
    entity TEXT NOT NULL,
    key TEXT NOT NULL,
    item TEXT,
    PRIMARY KEY (changeset_id, entity, key)
);

-- Published versions never change: the triggers refuse it.
CREATE TABLE versions (
    event TEXT NOT NULL REFERENCES events (slug),
    number BIGINT NOT NULL,
    published_at TEXT NOT NULL,
    changeset_id BIGINT REFERENCES changesets (id),
    sha256 TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (event, number)
);

CREATE FUNCTION vigil_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER versions_immutable BEFORE UPDATE OR DELETE ON versions
    FOR EACH ROW EXECUTE FUNCTION vigil_refuse_change();
