-- Claims say what sources say: a qualifier ("about", "more than", "fewer
-- than") and an optional date (an undated claim has none). Every row keeps
-- its values.
ALTER TABLE events ADD COLUMN approximation BIGINT;
ALTER TABLE claims ADD COLUMN qualifier TEXT;
ALTER TABLE claims ALTER COLUMN as_of DROP NOT NULL;
