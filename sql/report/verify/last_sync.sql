-- `tgm-sync verify`: when the bot's last successful (or partial) sync started, UNIX seconds;
-- NULL if it never synced.
-- Parameters: $1 bot_id.
SELECT max(epoch(started_at::TIMESTAMP))::BIGINT
FROM _sync_runs
WHERE bot_id = $1 AND status IN ('success', 'partial');
