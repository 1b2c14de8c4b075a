-- The re-read orders are applied: their temporary table goes.
DROP TABLE _reread_orders;
