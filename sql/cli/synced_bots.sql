-- `tgm-sync fx import` without --bot-id: every bot that has run a sync into this warehouse.
SELECT DISTINCT bot_id FROM _sync_runs ORDER BY bot_id;
