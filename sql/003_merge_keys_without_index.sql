-- 003: orders and members lose their PRIMARY KEY constraint; their keys stay the merge
-- keys (bot_id, order_key) and (bot_id, member_id, plan_id, project_id).
--
-- Why: DuckDB keeps a PRIMARY KEY as an ART index that must sit in memory to be appended
-- to, so it grows with the table (tens of MB at 1M orders) and a first sync of 1M orders
-- failed at commit under a 128 MB memory cap ("failed to pin block"). Without it the same
-- sync fits in 96 MB. Uniqueness does not rest on the index: each merge de-duplicates the
-- staged rows and inserts only keys the table does not hold (src/warehouse/merge.rs), and the
-- tests check that no key appears twice. The small tables keep their keys.
--
-- DuckDB cannot drop a constraint in place, so each table is rebuilt under its own name.

CREATE TABLE _orders_003 (
    bot_id          BIGINT NOT NULL,
    order_key       VARCHAR NOT NULL,
    order_type      BIGINT,
    order_date      TIMESTAMPTZ NOT NULL,
    order_status    VARCHAR NOT NULL,
    member_id       BIGINT,
    member_name     VARCHAR,
    member_email    VARCHAR,
    plan_id         BIGINT,
    plan_name       VARCHAR,
    project_id      BIGINT,
    payment_gateway VARCHAR,
    amount          DECIMAL(38,18),
    currency        VARCHAR,
    _extra          VARCHAR,
    _synced_at      TIMESTAMPTZ NOT NULL,
    _run_id         BIGINT NOT NULL,
    _deleted_at     TIMESTAMPTZ
);
INSERT INTO _orders_003 SELECT * FROM orders ORDER BY bot_id, order_date DESC;
DROP TABLE orders;
ALTER TABLE _orders_003 RENAME TO orders;

CREATE TABLE _members_003 (
    bot_id           BIGINT NOT NULL,
    member_id        BIGINT NOT NULL,
    plan_id          BIGINT NOT NULL,
    project_id       BIGINT NOT NULL,
    membership_start TIMESTAMPTZ,
    membership_end   TIMESTAMPTZ,
    _extra           VARCHAR,
    _synced_at       TIMESTAMPTZ NOT NULL,
    _run_id          BIGINT NOT NULL,
    _deleted_at      TIMESTAMPTZ
);
INSERT INTO _members_003 SELECT * FROM members;
DROP TABLE members;
ALTER TABLE _members_003 RENAME TO members;
