-- 008: reserved for another branch's migration (this branch's is 009). Nothing to do;
-- when the branches merge, this file gives way to the real 008.
SELECT 1;
