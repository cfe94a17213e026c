DROP INDEX users_name_nocase;
ALTER TABLE audit_entries DROP COLUMN client_request_id;
ALTER TABLE api_tokens DROP COLUMN owner;
ALTER TABLE changesets DROP COLUMN writers;
ALTER TABLE changesets DROP COLUMN revision;
