-- The sync state of one stream of one bot: its high-water mark (UNIX seconds) and when
-- its last full scan committed (microseconds). Parameters: bot_id, stream.
SELECT epoch(high_water_mark::TIMESTAMP)::BIGINT,
       epoch_us(last_full_scan_at::TIMESTAMP)
FROM _sync_state
WHERE bot_id = ? AND stream = ?
