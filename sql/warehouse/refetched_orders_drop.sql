-- The re-read orders are applied: their temporary table goes.
DROP TABLE _refetched_orders;
