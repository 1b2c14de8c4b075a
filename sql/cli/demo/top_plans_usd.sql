SELECT plan_id, plan_name, formatted, sales FROM plans_report('usd') LIMIT 5;
