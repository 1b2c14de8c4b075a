-- One order re-read by key. Parameters: $1 order_key, $2 order_status, $3 member_email.
INSERT INTO _reread_orders VALUES ($1, $2, $3);
