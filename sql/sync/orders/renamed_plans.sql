-- Plans this run renamed while live orders still carry their old name (the API now lists
-- those orders under the new name: they are read again). Parameters: $1 bot_id,
-- $2 run_id.
SELECT count(*)
FROM plans p
WHERE p.bot_id = $1 AND p._run_id = $2 AND p._deleted_at IS NULL
  AND EXISTS (SELECT 1 FROM orders o
              WHERE o.bot_id = p.bot_id AND o.plan_id = p.plan_id
                AND o._deleted_at IS NULL AND o.plan_name IS DISTINCT FROM p.plan_name);
