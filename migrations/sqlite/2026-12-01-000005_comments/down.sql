DROP TABLE changeset_comments;
