DROP INDEX audit_entries_action;
DROP INDEX audit_entries_actor;
DROP TABLE audit_verifications;
DROP TABLE audit_nodes;
