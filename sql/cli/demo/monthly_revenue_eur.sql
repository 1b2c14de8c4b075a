SELECT period, formatted, sales FROM orders_count('month', 6, 'eur');
