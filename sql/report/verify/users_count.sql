-- `tgm-sync verify`, /users/count: the key `users`, then users, leads, churned, members as
-- text, from the snapshot of the last sync.
-- Parameters: $1 bot_id.
SELECT 'users', users::VARCHAR, leads::VARCHAR, churned::VARCHAR, members::VARCHAR
FROM users_count(bot := $1);
