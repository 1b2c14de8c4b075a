-- The sync state of one stream of one bot: its high-water mark (UNIX seconds) and when
-- its last full scan committed (microseconds). Parameters: $1 bot_id,
-- $2 stream.
SELECT epoch(high_water_mark::TIMESTAMP)::BIGINT,
       epoch_us(last_full_scan_at::TIMESTAMP)
FROM _sync_state
WHERE bot_id = $1 AND stream = $2;
