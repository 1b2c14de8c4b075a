-- `tgm-sync status`, section "Stream state".
SELECT bot_id, stream,
       coalesce(strftime(high_water_mark::TIMESTAMP, '%Y-%m-%d %H:%M:%S'), '') AS newest_row_utc,
       coalesce(strftime(last_full_scan_at::TIMESTAMP, '%Y-%m-%d %H:%M:%S'), '') AS last_full_scan_utc,
       last_run_id
FROM _sync_state
ORDER BY bot_id, stream;
