-- `tgm-sync report users-count`: the /users/count snapshot of the last sync (no row if none).
-- Parameters: $1 bot_id.
SELECT users, leads, churned, members
FROM users_count(bot := $1);
