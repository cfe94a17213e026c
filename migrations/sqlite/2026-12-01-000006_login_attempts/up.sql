-- Log-in attempts, counted per account name (scope 'account', the name in
-- lower case) and per client address (scope 'address'), in the database so
-- that every replica counts against the same numbers. An attempt is counted
-- before its password is checked; a success takes it back. Times as the
-- other tables keep them: RFC 3339, UTC, whole seconds. `expires_at` is when
-- the row says nothing any more (its window and its lockout are over): such
-- rows are deleted as attempts are written.
CREATE TABLE login_attempts (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    count BIGINT NOT NULL,
    window_start TEXT NOT NULL,
    locked_until TEXT,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX login_attempts_expires ON login_attempts (expires_at);
