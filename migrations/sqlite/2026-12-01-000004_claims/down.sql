-- Undated claims cannot go back to a NOT NULL date: the down migration
-- refuses (a NULL fails the NOT NULL insert) rather than invent one.
CREATE TABLE claims_old (
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
INSERT INTO claims_old (event, id, figure, source, low, best, high, as_of, rank, reason, locator, quote, note)
    SELECT event, id, figure, source, low, best, high, as_of, rank, reason, locator, quote, note FROM claims;
DROP TABLE claims;
ALTER TABLE claims_old RENAME TO claims;
ALTER TABLE events DROP COLUMN approximation;
