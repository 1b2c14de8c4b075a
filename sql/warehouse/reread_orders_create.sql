-- The orders re-read by key whose status moved on or whose email is new (one row per
-- key), a temporary table of the stream's connection that the re-read's statements in
-- src/warehouse/stream.rs join against (table names from the stream's TableSpec).
CREATE OR REPLACE TEMP TABLE _reread_orders
    (order_key VARCHAR, order_status VARCHAR, member_email VARCHAR);
