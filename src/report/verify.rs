//! `tgm-sync verify`: each report endpoint against the warehouse's answer, field by field.
//!
//! The warehouse computes as the API does (docs/data-contract.md §2.2: each sale at its pair's 8-decimal
//! rate, rounded to 8 decimals, summed), so revenue must be equal, except where the API
//! prints a binary floating-point sum (`"398.60636332000007"`: at most 17 significant
//! digits): then it may differ by that float's residue, `(sales + 8)·2^-52` of it
//! ([`crate::fx::residue::revenue_slack`]), and no more. Sales, periods, ids, names and
//! `formatted` must be equal. When money differs in a currency, the pairs into it are
//! read again (read-only): if the API's rates moved since the last sync, the differences
//! are put down to that ([`Verdict::RatesMoved`]: "re-run sync"), not reported as such. A difference in a report that
//! covers time after the last sync, while the API has sales after it, is reported as
//! "newer than the last sync" rather than as an error.
//!
//! A `/plans/report` breakdown may hold several entries for one month (one per order
//! currency, docs/data-contract.md §2.5), in an order the API text leaves open: entries are compared as a
//! multiset per plan and month (see [`super::compare`]).
//!
//! Against the legacy API (`api_version = legacy`), or for a bot whose orders were never
//! synced, only `/users/count` is compared: there is no order data to compute the order
//! reports from ("no order data", never a report of zeros). The reports skipped are
//! listed as checks with the verdict [`Verdict::Skipped`].

use std::collections::BTreeMap;

use duckdb::{Connection, params};

use super::compare::{Check, Comparer, Fields, Rows, Verdict, align_entries};
use crate::api::models::{PaymentMethodReport, PeriodFigures, PlanReport};
use crate::api::{ApiClient, ApiError, ApiVersion, Method};
use crate::bot_id::BotId;
use crate::currency::Currency;
use crate::fx::pair_rate::solve;
use crate::fx::residue::revenue_slack;
use crate::fx::windows::{FxWindow, find_windows};
use crate::money::Amount;
use crate::sql_files::{SqlFile, sql_file};
use crate::streams::users_count::UsersCount;
use crate::warehouse::LoadError;
use crate::warehouse::error::DbContext;

#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `cli` adds the advice (run a sync first).
    #[error("the warehouse has no completed sync of bot {0}")]
    NeverSynced(BotId),
}

/// How revenue is compared, for the summary line.
pub(crate) const REVENUE_TOLERANCE: &str = "exact, or within the residue of the API's float sum";

/// One report's rows by key (a repeated key keeps its last row): [`query_list`] collected.
fn query_rows(
    conn: &Connection,
    sql: SqlFile,
    params: &[&dyn duckdb::ToSql],
    fields: &[&'static str],
) -> Result<Rows, LoadError> {
    Ok(query_list(conn, sql, params, fields)?.into_iter().collect())
}

/// Every row of one report as (key, field → text), repeated keys included, in query order.
fn query_list(
    conn: &Connection,
    sql: SqlFile,
    params: &[&dyn duckdb::ToSql],
    fields: &[&'static str],
) -> Result<Vec<(String, Fields)>, LoadError> {
    let mut stmt = conn
        .prepare(sql.text)
        .during(|| format!("preparing {}", sql.path))?;
    let mut rows = stmt
        .query(params)
        .during(|| format!("running {}", sql.path))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().during(|| format!("reading {}", sql.path))? {
        let key: String = row.get(0).during(|| "reading a key".into())?;
        let mut values = Fields::new();
        for (i, field) in fields.iter().enumerate() {
            let v: Option<String> = row.get(i + 1).during(|| format!("reading {field}"))?;
            values.insert(*field, v.unwrap_or_default());
        }
        out.push((key, values));
    }
    Ok(out)
}

fn money(a: Amount) -> String {
    a.to_string()
}

fn unreadable(endpoint: &Method, e: impl std::fmt::Display) -> ApiError {
    ApiError::UnexpectedResult {
        endpoint: endpoint.label(),
        cause: e.to_string(),
    }
}

/// The label of the UTC period (`day`, `month`, `year`) holding `at`, as the API writes
/// it: `2024-07-18`, `2024-07`, `2024`. Labels of one unit sort as their periods.
fn period_label(unit: &str, at: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp(at, 0) else {
        return String::new();
    };
    let date = t.date_naive();
    match unit {
        "day" => date.to_string(),
        "month" => date.to_string().chars().take(7).collect(),
        _ => date.to_string().chars().take(4).collect(),
    }
}

/// The time of the bot's last successful sync (UNIX seconds).
fn last_sync(conn: &Connection, bot_id: BotId) -> Result<i64, VerifyError> {
    let at: Option<i64> = conn
        .query_row(
            sql_file!("report/verify/last_sync.sql").text,
            params![bot_id],
            |r| r.get(0),
        )
        .during(|| "reading the last sync".into())?;
    at.ok_or(VerifyError::NeverSynced(bot_id))
}

/// Compares every report endpoint with the warehouse for one bot, in each currency.
pub(crate) async fn verify_bot(
    client: &ApiClient,
    conn: &Connection,
    bot_id: BotId,
    currencies: &[Currency],
) -> Result<Vec<Check>, VerifyError> {
    let synced_at = last_sync(conn, bot_id)?;
    // The legacy API lists no orders: nothing in the warehouse backs an order report.
    let legacy = client.api_version() == ApiVersion::Legacy;
    let now = crate::clock::now_secs();
    let bot = BotVerify {
        client,
        conn,
        bot_id,
        synced_at,
        now_micros: now * 1_000_000,
    };
    let mut cmp = Comparer {
        checks: Vec::new(),
        newer_sales: !legacy && bot.sales_after_sync(now).await?,
    };
    let compared = match order_reports_skipped(legacy, bot.has_order_data()?) {
        Some((api, warehouse)) => {
            cmp.checks.extend(skipped(currencies, api, warehouse));
            &[][..]
        }
        None => currencies,
    };
    for &currency in compared {
        bot.compare_order_reports(&mut cmp, currency).await?;
    }
    bot.compare_users_count(&mut cmp).await?;
    Ok(cmp.checks)
}

/// Why the order reports are not compared, as the skipped checks' (api, warehouse) texts;
/// `None` when they are.
fn order_reports_skipped(legacy: bool, has_orders: bool) -> Option<(&'static str, &'static str)> {
    if legacy {
        Some(("legacy API: no order list", "no orders synced"))
    } else if !has_orders {
        Some(("not compared", "no order data: orders never synced"))
    } else {
        None
    }
}

/// One bot's verify: the API and the warehouse as of the bot's last sync.
struct BotVerify<'a> {
    client: &'a ApiClient,
    conn: &'a Connection,
    bot_id: BotId,
    /// The last successful sync (UNIX seconds).
    synced_at: i64,
    now_micros: i64,
}

impl BotVerify<'_> {
    /// Whether the API has sales after the last sync: they explain differences in
    /// reports that cover that time.
    async fn sales_after_sync(&self, now: i64) -> Result<bool, VerifyError> {
        let after = self.client.revenue(self.synced_at, now + 1, None).await?;
        Ok(after.figures.sales > 0)
    }

    fn has_order_data(&self) -> Result<bool, VerifyError> {
        let has_orders = self
            .conn
            .query_row(
                sql_file!("report/verify/has_order_data.sql").text,
                params![self.bot_id],
                |r| r.get(0),
            )
            .during(|| "checking for order data".into())?;
        Ok(has_orders)
    }

    /// The four order reports in one currency; money differences are put down to moved
    /// rates when the API's rates moved.
    async fn compare_order_reports(
        &self,
        cmp: &mut Comparer,
        currency: Currency,
    ) -> Result<(), VerifyError> {
        let first_check = cmp.checks.len();
        self.compare_revenue(cmp, currency).await?;
        self.compare_orders_count(cmp, currency).await?;
        self.compare_plans_report(cmp, currency).await?;
        self.compare_payment_methods(cmp, currency).await?;
        self.explain_by_moved_rates(&mut cmp.checks[first_check..], currency)
            .await
    }

    /// /revenue over all time up to the last sync, and over its last 30 days.
    async fn compare_revenue(
        &self,
        cmp: &mut Comparer,
        currency: Currency,
    ) -> Result<(), VerifyError> {
        let cur = currency.code();
        let synced_at = self.synced_at;
        for (label, from) in [("all time", 0), ("last 30 days", synced_at - 30 * 86_400)] {
            let r = self.client.revenue(from, synced_at, Some(currency)).await?;
            let api: Rows = BTreeMap::from([(label.to_string(), figures_row(&r.figures))]);
            let ours = query_rows(
                self.conn,
                sql_file!("report/verify/revenue.sql"),
                &[&label, &from, &synced_at, &cur, &self.bot_id],
                &["revenue", "currency", "formatted", "sales"],
            )?;
            cmp.compare("revenue", cur, &api, &ours, &|_| false);
        }
        Ok(())
    }

    /// /orders/count by day, month and year.
    async fn compare_orders_count(
        &self,
        cmp: &mut Comparer,
        currency: Currency,
    ) -> Result<(), VerifyError> {
        let cur = currency.code();
        for (unit, count) in [("day", 7), ("month", 12), ("year", 3)] {
            let api = self.api_orders_count(unit, count, currency).await?;
            let ours = query_rows(
                self.conn,
                sql_file!("report/verify/orders_count.sql"),
                &[&unit, &count, &cur, &self.now_micros, &self.bot_id],
                &["revenue", "currency", "formatted", "sales"],
            )?;
            // Only the periods that end after the sync can hold newer sales.
            let since = period_label(unit, self.synced_at);
            cmp.compare("orders/count", cur, &api, &ours, &|key| {
                key.rsplit(' ').next().is_some_and(|p| p >= since.as_str())
            });
        }
        Ok(())
    }

    /// The API's /orders/count over the last `count` periods of `unit`, keyed `unit period`.
    async fn api_orders_count(
        &self,
        unit: &str,
        count: i32,
        currency: Currency,
    ) -> Result<Rows, VerifyError> {
        let rows = self
            .client
            .get_list(
                &Method::OrdersCount,
                &[
                    ("interval_unit", unit.into()),
                    ("interval_count", count.to_string()),
                    ("currency", currency.query_value()),
                ],
            )
            .await?;
        let mut api = Rows::new();
        for row in rows {
            let p =
                PeriodFigures::from_json(row).map_err(|e| unreadable(&Method::OrdersCount, e))?;
            api.insert(format!("{unit} {}", p.period), figures_row(&p.figures));
        }
        Ok(api)
    }

    /// /plans/report: totals, and the breakdown entries as a multiset per plan and
    /// month (several per month: one per order currency).
    async fn compare_plans_report(
        &self,
        cmp: &mut Comparer,
        currency: Currency,
    ) -> Result<(), VerifyError> {
        let cur = currency.code();
        let (mut api, api_entries) = self.api_plans_report(currency).await?;
        let mut ours = query_rows(
            self.conn,
            sql_file!("report/verify/plan_totals.sql"),
            &[&cur, &self.now_micros, &self.bot_id],
            &["revenue", "currency", "formatted", "sales", "plan_name"],
        )?;
        let our_entries = query_list(
            self.conn,
            sql_file!("report/verify/plan_breakdown.sql"),
            &[&cur, &self.now_micros, &self.bot_id],
            &["revenue", "currency", "formatted", "sales"],
        )?;
        let (api_aligned, ours_aligned) = align_entries(api_entries, our_entries);
        api.extend(api_aligned);
        ours.extend(ours_aligned);
        // Plan totals cover the current month; a breakdown month ("plan 7 2024-05") only
        // if it ends after the sync.
        let since = period_label("month", self.synced_at);
        cmp.compare("plans/report", cur, &api, &ours, &|key| {
            let parts: Vec<&str> = key.split(' ').collect();
            parts.len() < 3 || parts[2] >= since.as_str()
        });
        Ok(())
    }

    /// The API's /plans/report: its totals by plan, and its breakdown entries in order.
    async fn api_plans_report(
        &self,
        currency: Currency,
    ) -> Result<(Rows, Vec<(String, Fields)>), VerifyError> {
        let rows = self
            .client
            .get_list(
                &Method::PlansReport,
                &[("currency", currency.query_value())],
            )
            .await?;
        let mut api = Rows::new();
        let mut api_entries: Vec<(String, Fields)> = Vec::new();
        for row in rows {
            let p = PlanReport::from_json(row).map_err(|e| unreadable(&Method::PlansReport, e))?;
            let mut fields = figures_row(&p.figures);
            fields.insert("plan_name", p.plan_name.clone().unwrap_or_default());
            api.insert(format!("plan {}", p.plan_id), fields);
            for b in &p.breakdown {
                api_entries.push((
                    format!("plan {} {}", p.plan_id, b.period),
                    figures_row(&b.figures),
                ));
            }
        }
        Ok((api, api_entries))
    }

    /// /paymentMethods/report, all time.
    async fn compare_payment_methods(
        &self,
        cmp: &mut Comparer,
        currency: Currency,
    ) -> Result<(), VerifyError> {
        let cur = currency.code();
        let rows = self
            .client
            .get_list(
                &Method::PaymentMethodsReport,
                &[("currency", currency.query_value())],
            )
            .await?;
        let mut api = Rows::new();
        for row in rows {
            let g = PaymentMethodReport::from_json(row)
                .map_err(|e| unreadable(&Method::PaymentMethodsReport, e))?;
            let mut fields = figures_row(&g.figures);
            fields.insert("display_name", g.display_name.clone().unwrap_or_default());
            api.insert(g.name.clone(), fields);
        }
        let ours = query_rows(
            self.conn,
            sql_file!("report/verify/payment_methods.sql"),
            &[&cur, &self.bot_id],
            &["revenue", "currency", "formatted", "sales", "display_name"],
        )?;
        cmp.compare("paymentMethods/report", cur, &api, &ours, &|_| true);
        Ok(())
    }

    /// Turns one currency's money differences into [`Verdict::RatesMoved`] when the API's
    /// rates into it moved since the sync (read only if money differs).
    async fn explain_by_moved_rates(
        &self,
        checks: &mut [Check],
        currency: Currency,
    ) -> Result<(), VerifyError> {
        let money_differs =
            |c: &Check| c.verdict == Verdict::Differs && matches!(c.field, "revenue" | "formatted");
        if checks.iter().any(money_differs)
            && rates_moved(self.client, self.conn, self.bot_id, currency).await?
        {
            for c in checks {
                if money_differs(c) {
                    c.verdict = Verdict::RatesMoved;
                }
            }
        }
        Ok(())
    }

    /// /users/count against the snapshot of the last sync: users interact with the bot
    /// all the time, so a difference is "newer than the last sync" unless nothing happened.
    async fn compare_users_count(&self, cmp: &mut Comparer) -> Result<(), VerifyError> {
        let value = self.client.get(&Method::UsersCount, &[]).await?;
        let u = UsersCount::from_json(value).map_err(|e| unreadable(&Method::UsersCount, e))?;
        let show = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let api: Rows = BTreeMap::from([(
            "users".to_string(),
            BTreeMap::from([
                ("users", show(u.users)),
                ("leads", show(u.leads)),
                ("churned", show(u.churned)),
                ("members", show(u.members)),
            ]),
        )]);
        let ours = query_rows(
            self.conn,
            sql_file!("report/verify/users_count.sql"),
            &[&self.bot_id],
            &["users", "leads", "churned", "members"],
        )?;
        let saved = cmp.newer_sales;
        cmp.newer_sales = true;
        cmp.compare("users/count", "", &api, &ours, &|_| true);
        cmp.newer_sales = saved;
        Ok(())
    }
}

/// Whether the API converts into `target` at other rates than the warehouse does: each
/// native currency's rate window (the capture's, [`crate::fx::windows`]) read again
/// in `target` and solved ([`crate::fx::pair_rate`]); a stored rate outside the rates
/// that reproduce the answer has moved. Read-only: nothing is written. A window whose
/// sales changed (their number, or their native sum) says nothing about rates and is
/// passed over.
async fn rates_moved(
    client: &ApiClient,
    conn: &Connection,
    bot_id: BotId,
    target: Currency,
) -> Result<bool, VerifyError> {
    for window in find_windows(conn, bot_id)? {
        if window.currency == target.code() {
            continue;
        }
        let stored: Option<String> = conn
            .query_row(
                sql_file!("report/verify/stored_rate.sql").text,
                params![bot_id, window.currency, target.code()],
                |r| r.get(0),
            )
            .ok();
        let Some(stored) = stored.and_then(|s| Amount::parse(&s).ok()) else {
            continue;
        };
        let answer = client
            .revenue(window.from, window.to, Some(target))
            .await?
            .figures;
        if answer.sales != window.sales || !same_native(client, &window).await? {
            continue;
        }
        let slack = revenue_slack(answer.revenue, answer.sales);
        // No rate reproduces it: the window's amounts differ, which says nothing of rates.
        let Some(now) = solve(&window.amounts, answer.revenue, slack) else {
            continue;
        };
        let units = stored.scaled() / 10_i128.pow(10);
        if units < now.low || units > now.high {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the API's sales in `window`, in their own currency, add up to the
/// warehouse's: a window whose amounts changed says nothing about rates.
async fn same_native(client: &ApiClient, window: &FxWindow) -> Result<bool, VerifyError> {
    let Ok(own) = window.currency.parse::<Currency>() else {
        return Ok(false);
    };
    let answer = client
        .revenue(window.from, window.to, Some(own))
        .await?
        .figures;
    let slack = revenue_slack(answer.revenue, answer.sales);
    Ok(answer.revenue.scaled().abs_diff(window.native.scaled()) <= slack)
}

/// The captured rates of `bot_id` that are not pinned down to one 8-decimal rate, as
/// `FROM→TO rate (low..high)`, for the summary.
pub(crate) fn inexact_rates(conn: &Connection, bot_id: BotId) -> Result<Vec<String>, LoadError> {
    let sql = sql_file!("report/verify/inexact_rates.sql");
    let mut stmt = conn
        .prepare(sql.text)
        .during(|| format!("preparing {}", sql.path))?;
    let rows = stmt
        .query_map(params![bot_id], |r| {
            Ok(format!(
                "{}→{} {} ({}..{})",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?
            ))
        })
        .during(|| format!("running {}", sql.path))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.during(|| format!("reading {}", sql.path))?);
    }
    Ok(out)
}

/// The reports computed from orders: what a legacy verify skips.
pub(crate) const ORDER_REPORTS: [&str; 4] = [
    "revenue",
    "orders/count",
    "plans/report",
    "paymentMethods/report",
];

/// One [`Verdict::Skipped`] check per order report and currency (`api` and `warehouse`
/// say why).
fn skipped(currencies: &[Currency], api: &str, warehouse: &str) -> Vec<Check> {
    currencies
        .iter()
        .flat_map(|c| {
            ORDER_REPORTS.into_iter().map(move |report| Check {
                report,
                currency: c.code().to_string(),
                key: "all".to_string(),
                field: "report",
                api: api.to_string(),
                warehouse: warehouse.to_string(),
                verdict: Verdict::Skipped,
            })
        })
        .collect()
}

fn figures_row(f: &crate::api::models::Figures) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("revenue", money(f.revenue)),
        ("currency", f.currency.clone()),
        ("formatted", f.formatted.clone().unwrap_or_default()),
        ("sales", f.sales.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_labels_are_utc_and_sort_like_periods() {
        // 2024-07-18T06:23:54Z
        assert_eq!(period_label("day", 1_721_283_834), "2024-07-18");
        assert_eq!(period_label("month", 1_721_283_834), "2024-07");
        assert_eq!(period_label("year", 1_721_283_834), "2024");
        // 2024-06-30T23:59:59Z is still June.
        assert_eq!(period_label("month", 1_719_791_999), "2024-06");
        assert!("2024-06" < period_label("month", 1_721_283_834).as_str());
    }

    #[test]
    fn a_legacy_verify_skips_each_order_report_in_each_currency() {
        let checks = skipped(&[Currency::Eur, Currency::Usd], "legacy", "none");
        assert_eq!(checks.len(), 2 * ORDER_REPORTS.len());
        assert!(checks.iter().all(|c| c.verdict == Verdict::Skipped));
        let reports: std::collections::BTreeSet<&str> = checks.iter().map(|c| c.report).collect();
        assert!(!reports.contains("users/count"), "{reports:?}");
        assert_eq!(reports.len(), 4, "{reports:?}");
    }
}
