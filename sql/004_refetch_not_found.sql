-- 004: each run records how many pending orders re-fetched by key (`/orders/{key}`)
-- answered 404. Most of them gone at once looks like a wrong path or key scope, which
-- would otherwise leave those orders' statuses stale in silence (the run also warns).

ALTER TABLE _sync_runs ADD COLUMN refetch_not_found BIGINT DEFAULT 0;
