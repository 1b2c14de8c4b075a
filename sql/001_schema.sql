-- 001: the synced tables, sync bookkeeping and report inputs.
--
-- Conventions (docs/data-contract.md §1.8, §3.1, §3.2):
--   * bot_id leads every key: one warehouse holds many bots.
--   * money is DECIMAL(38,18), parsed exactly from the API's decimal strings;
--     times are TIMESTAMPTZ (UTC) from UNIX seconds.
--   * every synced row carries _synced_at / _run_id (the run that last wrote it) and
--     _deleted_at (set when a full scan no longer returns the row, cleared if it returns).
--   * _extra holds the JSON text of fields the API sent that this schema does not know.

CREATE TABLE IF NOT EXISTS orders (
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
    -- as /orders lists it: a display name ("Credit / Debit card (Stripe)"); see gateways
    payment_gateway VARCHAR,
    -- native amount and currency, as the order was paid (it may differ from the plan's
    -- currency: docs/data-contract.md §2.5), never converted
    amount          DECIMAL(38,18),
    currency        VARCHAR,
    _extra          VARCHAR,
    _synced_at      TIMESTAMPTZ NOT NULL,
    _run_id         BIGINT NOT NULL,
    _deleted_at     TIMESTAMPTZ,
    PRIMARY KEY (bot_id, order_key)
);

-- One row per membership: a member may hold several (one per plan and project).
CREATE TABLE IF NOT EXISTS members (
    bot_id           BIGINT NOT NULL,
    member_id        BIGINT NOT NULL,
    plan_id          BIGINT NOT NULL,
    project_id       BIGINT NOT NULL,
    membership_start TIMESTAMPTZ,
    membership_end   TIMESTAMPTZ,
    _extra           VARCHAR,
    _synced_at       TIMESTAMPTZ NOT NULL,
    _run_id          BIGINT NOT NULL,
    _deleted_at      TIMESTAMPTZ,
    PRIMARY KEY (bot_id, member_id, plan_id, project_id)
);

CREATE TABLE IF NOT EXISTS plans (
    bot_id            BIGINT NOT NULL,
    plan_id           BIGINT NOT NULL,
    plan_name         VARCHAR,
    duration          VARCHAR,          -- as sent: "2 days", "1 year"
    duration_interval INTERVAL,         -- the same, as an INTERVAL (NULL if unparseable)
    price             DECIMAL(38,18),
    currency          VARCHAR,
    recurring         BOOLEAN,
    newcomers         BIGINT,
    singleuse         BIGINT,
    token_only        BOOLEAN,
    credit_only       BOOLEAN,
    invitee_only      BIGINT,
    is_hidden         BOOLEAN,
    max_customers     BIGINT,
    sort_order        BIGINT,
    enabled           BOOLEAN,
    _extra            VARCHAR,
    _synced_at        TIMESTAMPTZ NOT NULL,
    _run_id           BIGINT NOT NULL,
    _deleted_at       TIMESTAMPTZ,
    PRIMARY KEY (bot_id, plan_id)
);

CREATE TABLE IF NOT EXISTS projects (
    bot_id       BIGINT NOT NULL,
    project_id   BIGINT NOT NULL,
    project_name VARCHAR,
    sort_order   BIGINT,
    is_hidden    BOOLEAN,
    _extra       VARCHAR,
    _synced_at   TIMESTAMPTZ NOT NULL,
    _run_id      BIGINT NOT NULL,
    _deleted_at  TIMESTAMPTZ,
    PRIMARY KEY (bot_id, project_id)
);

CREATE TABLE IF NOT EXISTS coupons (
    bot_id            BIGINT NOT NULL,
    name              VARCHAR NOT NULL,
    amount            DECIMAL(38,18),
    percent           DECIMAL(38,18),
    min_amount        DECIMAL(38,18),
    max_amount        DECIMAL(38,18),
    uses              BIGINT,
    used              BIGINT,
    plans             BIGINT[],         -- plan ids; unnested in the coupon_plans view
    payment_gateways  VARCHAR[],
    revenue_direction VARCHAR,
    revenue_amount    DECIMAL(38,18),
    revenue_currency  VARCHAR,
    newcomers         BOOLEAN,
    singleuse         BOOLEAN,
    invitee_only      BOOLEAN,
    auto_apply        BOOLEAN,
    enabled           BOOLEAN,
    _extra            VARCHAR,
    _synced_at        TIMESTAMPTZ NOT NULL,
    _run_id           BIGINT NOT NULL,
    _deleted_at       TIMESTAMPTZ,
    PRIMARY KEY (bot_id, name)
);

CREATE TABLE IF NOT EXISTS payment_methods (
    bot_id             BIGINT NOT NULL,
    name               VARCHAR NOT NULL,  -- gateway code ("stripe")
    display_name       VARCHAR,
    supports_recurring BOOLEAN,
    requires_email     BOOLEAN,
    tokens             VARCHAR,           -- JSON text of the tokens list, NULL when absent
    _extra             VARCHAR,
    _synced_at         TIMESTAMPTZ NOT NULL,
    _run_id            BIGINT NOT NULL,
    _deleted_at        TIMESTAMPTZ,
    PRIMARY KEY (bot_id, name)
);

-- Gateway code <-> display name, from /paymentMethods (installed gateways) and
-- /paymentMethods/report (which also names gateways no longer installed).
CREATE TABLE IF NOT EXISTS gateways (
    bot_id       BIGINT NOT NULL,
    code         VARCHAR NOT NULL,
    display_name VARCHAR NOT NULL,
    installed    BOOLEAN NOT NULL,   -- listed by /paymentMethods at the last sync
    _synced_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (bot_id, code)
);

-- /users/count cannot be derived from the other endpoints: one snapshot per run.
CREATE TABLE IF NOT EXISTS users_count_history (
    bot_id      BIGINT NOT NULL,
    run_id      BIGINT NOT NULL,
    captured_at TIMESTAMPTZ NOT NULL,
    users       BIGINT,
    leads       BIGINT,
    churned     BIGINT,
    members     BIGINT,
    PRIMARY KEY (bot_id, run_id)
);

-- Exchange rates: 1 unit of from_currency = rate units of to_currency.
-- source 'api' rows are captured by each sync; 'import' rows come from `tgm-sync fx import`
-- and take precedence (see sql/reports.sql, fx_effective).
CREATE TABLE IF NOT EXISTS fx_rates (
    bot_id        BIGINT NOT NULL,
    as_of         TIMESTAMPTZ NOT NULL,
    from_currency VARCHAR NOT NULL,
    to_currency   VARCHAR NOT NULL,
    rate          DECIMAL(38,18) NOT NULL,
    source        VARCHAR NOT NULL,
    PRIMARY KEY (bot_id, as_of, from_currency, to_currency, source)
);

-- Per-bot facts learnt from the API: the preferred report currency.
CREATE TABLE IF NOT EXISTS bot_settings (
    bot_id             BIGINT NOT NULL PRIMARY KEY,
    preferred_currency VARCHAR NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);

-- Sync state per bot and stream; committed in the same transaction as the stream's rows.
CREATE TABLE IF NOT EXISTS _sync_state (
    bot_id            BIGINT NOT NULL,
    stream            VARCHAR NOT NULL,
    high_water_mark   TIMESTAMPTZ,       -- orders: newest order_date seen
    last_full_scan_at TIMESTAMPTZ,
    last_run_id       BIGINT NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (bot_id, stream)
);

CREATE TABLE IF NOT EXISTS _sync_runs (
    run_id        BIGINT NOT NULL,
    bot_id        BIGINT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR NOT NULL,      -- running | success | partial | failed
    requests      BIGINT NOT NULL DEFAULT 0,
    retries       BIGINT NOT NULL DEFAULT 0,
    rows_rejected BIGINT NOT NULL DEFAULT 0,
    error         VARCHAR,               -- key redacted
    PRIMARY KEY (run_id, bot_id)
);

-- One row per run, bot and stream: what each stream read and wrote.
CREATE TABLE IF NOT EXISTS _sync_run_streams (
    run_id        BIGINT NOT NULL,
    bot_id        BIGINT NOT NULL,
    stream        VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,      -- success | failed | skipped
    rows_read     BIGINT NOT NULL,
    rows_written  BIGINT NOT NULL,
    rows_deleted  BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    requests      BIGINT NOT NULL,
    retries       BIGINT NOT NULL,
    error         VARCHAR,
    PRIMARY KEY (run_id, bot_id, stream)
);

CREATE TABLE IF NOT EXISTS _rejected (
    run_id      BIGINT NOT NULL,
    bot_id      BIGINT NOT NULL,
    stream      VARCHAR NOT NULL,
    rejected_at TIMESTAMPTZ NOT NULL,
    reason      VARCHAR NOT NULL,
    raw_json    VARCHAR NOT NULL
);

-- Parquet partitions whose rows changed and whose files are not yet rewritten. Marked in
-- the stream's transaction, cleared after the files are renamed into place, so a crash
-- between the two leaves the mark and the next run rewrites the partition.
CREATE TABLE IF NOT EXISTS _parquet_dirty (
    bot_id     BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    partition  VARCHAR NOT NULL,        -- '' for unpartitioned tables, 'YYYY-MM' for orders
    PRIMARY KEY (bot_id, table_name, partition)
);
