SELECT member_id, count(*) AS memberships, list(plan_id ORDER BY plan_id) AS plans
FROM members
WHERE _deleted_at IS NULL
GROUP BY member_id
HAVING count(*) > 1
ORDER BY memberships DESC, member_id
LIMIT 5;
