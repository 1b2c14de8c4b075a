-- `tgm-sync status`, section "Lake tables":
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
