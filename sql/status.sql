-- `tgm-sync status`: five queries, each shown as a table under the title in its comment.

-- title: Last runs
SELECT run_id, bot_id,
       strftime(started_at::TIMESTAMP, '%Y-%m-%d %H:%M:%S') AS started_utc,
       round(epoch(finished_at::TIMESTAMP) - epoch(started_at::TIMESTAMP), 1) AS seconds,
       status, requests, retries, rows_rejected AS rejected,
       coalesce(error, '') AS error
FROM _sync_runs
-- Every bot of the last run (however many), then earlier rows up to 10 in all.
QUALIFY run_id = max(run_id) OVER () OR row_number() OVER (ORDER BY run_id DESC, bot_id) <= 10
ORDER BY run_id DESC, bot_id;

-- title: Rows per table
SELECT * FROM (
    SELECT 'orders' AS "table", bot_id, count(*) FILTER (WHERE _deleted_at IS NULL) AS live, count(*) FILTER (WHERE _deleted_at IS NOT NULL) AS deleted FROM orders GROUP BY bot_id
    UNION ALL SELECT 'members', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM members GROUP BY bot_id
    UNION ALL SELECT 'plans', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM plans GROUP BY bot_id
    UNION ALL SELECT 'projects', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM projects GROUP BY bot_id
    UNION ALL SELECT 'coupons', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM coupons GROUP BY bot_id
    UNION ALL SELECT 'payment_methods', bot_id, count(*) FILTER (WHERE _deleted_at IS NULL), count(*) FILTER (WHERE _deleted_at IS NOT NULL) FROM payment_methods GROUP BY bot_id
    UNION ALL SELECT 'users_count_history', bot_id, count(*), 0 FROM users_count_history GROUP BY bot_id
    UNION ALL SELECT 'fx_rates', bot_id, count(*), 0 FROM fx_rates GROUP BY bot_id
    UNION ALL SELECT '_rejected', bot_id, count(*), 0 FROM _rejected GROUP BY bot_id
) ORDER BY bot_id, "table";

-- title: Stream state
SELECT bot_id, stream,
       coalesce(strftime(high_water_mark::TIMESTAMP, '%Y-%m-%d %H:%M:%S'), '') AS newest_row_utc,
       coalesce(strftime(last_full_scan_at::TIMESTAMP, '%Y-%m-%d %H:%M:%S'), '') AS last_full_scan_utc,
       last_run_id
FROM _sync_state
ORDER BY bot_id, stream;

-- title: Lake tables
-- Per lake, bot and table: the Delta version of the last commit, and the partitions the
-- warehouse still owes the lake (a failed or killed publication; the next run sends them).
SELECT p.lake_url, p.bot_id, p.table_name AS "table", p.version,
       strftime(p.published_at::TIMESTAMP, '%Y-%m-%d %H:%M:%S') AS published_utc,
       (SELECT count(*) FROM (
            SELECT d.partition FROM _lake_dirty d
            WHERE d.bot_id = p.bot_id AND d.table_name = p.table_name
            UNION
            SELECT o.partition FROM _lake_owed o
            WHERE o.lake_url = p.lake_url AND o.bot_id = p.bot_id
              AND o.table_name = p.table_name)) AS partitions_owed
FROM _lake_published p
ORDER BY p.lake_url, p.bot_id, p.table_name;

-- title: Exchange rates
-- Per bot, the rates reports convert with (fx_effective): the pairs, those that are the
-- API's 8-decimal rate pinned down exactly, the pairs whose windows leave more than one
-- 8-decimal rate (rate_low..rate_high, migration 009), those captured before per-pair
-- capture (no bounds: re-run sync), and imported ones.
SELECT fx.bot_id,
       count(*) AS pairs,
       count(*) FILTER (WHERE fx.source = 'api' AND fx.rate_low = fx.rate_high) AS exact,
       coalesce(string_agg(fx.from_currency || '→' || fx.to_currency, ', '
                           ORDER BY fx.from_currency, fx.to_currency)
                FILTER (WHERE fx.source = 'api' AND fx.rate_low <> fx.rate_high), '')
           AS not_pinned_down,
       count(*) FILTER (WHERE fx.source = 'api' AND fx.rate_low IS NULL) AS before_per_pair,
       count(*) FILTER (WHERE fx.source = 'import') AS imported
FROM fx_effective AS fx
WHERE fx.source <> 'identity'
GROUP BY fx.bot_id
ORDER BY fx.bot_id;
