-- Claims say what sources say: a qualifier ("about", "more than", "fewer
-- than") and an optional date (an undated claim has none). SQLite cannot
-- drop NOT NULL in place, so the table is rebuilt; every row keeps its values.
ALTER TABLE events ADD COLUMN approximation BIGINT;

CREATE TABLE claims_new (
    event TEXT NOT NULL REFERENCES events (slug),
    id TEXT NOT NULL,
    figure TEXT NOT NULL,
    source TEXT NOT NULL,
    low BIGINT,
    best BIGINT,
    high BIGINT,
    qualifier TEXT,
    as_of TEXT,
    rank TEXT NOT NULL,
    reason TEXT,
    locator TEXT NOT NULL,
    quote TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (event, id)
);
INSERT INTO claims_new (event, id, figure, source, low, best, high, qualifier, as_of, rank, reason, locator, quote, note)
    SELECT event, id, figure, source, low, best, high, NULL, as_of, rank, reason, locator, quote, note FROM claims;
DROP TABLE claims;
ALTER TABLE claims_new RENAME TO claims;
