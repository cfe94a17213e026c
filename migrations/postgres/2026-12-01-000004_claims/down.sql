-- Undated claims cannot go back to a NOT NULL date: this fails rather than
-- invent one.
ALTER TABLE claims ALTER COLUMN as_of SET NOT NULL;
ALTER TABLE claims DROP COLUMN qualifier;
ALTER TABLE events DROP COLUMN approximation;
