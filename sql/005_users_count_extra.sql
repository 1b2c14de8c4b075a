-- 005: /users/count keeps the fields this schema does not know, like every other stream
-- (docs/data-contract.md §1.9: unknown fields are kept in a JSON column `_extra` of their row). Snapshots
-- taken before this migration have NULL there.
ALTER TABLE users_count_history ADD COLUMN _extra VARCHAR;
