//! The report endpoints' arithmetic (docs/data-contract.md §2), as pure functions over a `SimData`
//! snapshot: sales are COMPLETED orders; revenue is converted at the fixed rates.
//!
//! By default ([`Arithmetic::Quoted`], the API text's arithmetic) each sale is converted
//! at its pair's 8-decimal rate and rounded to 8 decimals, and revenue is the sum of
//! those. Under [`Arithmetic::Exact`] revenue sums the native amounts per currency first
//! and converts each sum once at the exact rates.
//!
//! Each figure also carries the same sum done in binary floating point (`*_f64`), which
//! the `float_revenue` quirk sends as `revenue`, as the real API does
//! (`"398.60636332000007"`: a float sum of 8-decimal values); `formatted` stays the exact
//! sum's.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use super::model::{GATEWAYS, Gateway, SimData};
use super::periods::{IntervalUnit, Period, last_periods, month_index, month_label};
pub(crate) use super::tally::{Pricing, Tally};

/// `/revenue`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RevenueReport {
    pub from: i64,
    pub to: i64,
    pub revenue: Decimal,
    pub revenue_f64: f64,
    pub sales: u64,
}

/// Sales with `from <= order_date < to`.
pub(crate) fn revenue(data: &SimData, from: i64, to: i64, pricing: &Pricing) -> RevenueReport {
    // Orders are newest first: the window is one contiguous run.
    let first = data.orders.partition_point(|o| o.order_date >= to);
    let last = data.orders.partition_point(|o| o.order_date >= from);
    let mut tally = Tally::new(pricing);
    if first < last {
        data.orders.range(first..last).for_each(|o| tally.add(o));
    }
    RevenueReport {
        from,
        to,
        revenue: tally.revenue(),
        revenue_f64: tally.revenue_f64(),
        sales: tally.sales,
    }
}

/// One period of `/orders/count`, or one entry of a `/plans/report` breakdown (one month
/// and one order currency: `revenue` is then that currency's native sum).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PeriodRow {
    pub period: String,
    pub revenue: Decimal,
    pub revenue_f64: f64,
    pub sales: u64,
}

/// `/orders/count`: the last `count` periods up to and including now's, newest first,
/// zero-filled.
pub(crate) fn orders_count(
    data: &SimData,
    now: i64,
    unit: IntervalUnit,
    count: u32,
    pricing: &Pricing,
) -> Vec<PeriodRow> {
    let periods = last_periods(now, unit, count);
    let tallies = bucket(data, &periods, pricing);
    periods
        .into_iter()
        .zip(tallies)
        .map(|(p, t)| PeriodRow {
            period: p.label,
            revenue: t.revenue(),
            revenue_f64: t.revenue_f64(),
            sales: t.sales,
        })
        .collect()
}

/// Tallies sales into `periods` (newest first, contiguous), walking orders newest first.
fn bucket(data: &SimData, periods: &[Period], pricing: &Pricing) -> Vec<Tally> {
    let mut tallies = vec![Tally::new(pricing); periods.len()];
    let Some(newest) = periods.first() else {
        return tallies;
    };
    let skip = data.orders.partition_point(|o| o.order_date >= newest.end);
    let mut at = 0;
    for order in data.orders.range(skip..) {
        while at < periods.len() && order.order_date < periods[at].start {
            at += 1;
        }
        if at == periods.len() {
            break;
        }
        tallies[at].add(order);
    }
    tallies
}

/// One plan of `/plans/report`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlanReportRow {
    pub plan_id: u64,
    pub plan_name: String,
    pub revenue: Decimal,
    pub revenue_f64: f64,
    pub sales: u64,
    /// One entry per month with sales and per currency its orders were paid in, months
    /// newest first, currencies by code within a month; each entry's `revenue` is that
    /// currency's NATIVE sum (docs/data-contract.md §2.5 as corrected: the API text's sample shows it so).
    pub breakdown: Vec<PeriodRow>,
}

/// How many months `/plans/report` covers: the current one and the 5 before it.
pub(crate) const PLAN_REPORT_MONTHS: u32 = 6;

/// `/plans/report`: plans with a sale in the last six calendar months (this one included),
/// by revenue descending (ties by `plan_id`). Totals are converted to `currency`; the
/// breakdown is not (see [`PlanReportRow::breakdown`]): the report labels each native sum
/// with `currency`, as the API does.
pub(crate) fn plans_report(data: &SimData, now: i64, pricing: &Pricing) -> Vec<PlanReportRow> {
    let periods = last_periods(now, IntervalUnit::Month, PLAN_REPORT_MONTHS);
    let Some(window_start) = periods.last().map(|p| p.start) else {
        return Vec::new();
    };
    let window_end = periods[0].end;
    // plan_id -> month index -> tally
    let mut by_plan: HashMap<u64, BTreeMap<i64, Tally>> = HashMap::new();
    for order in data.orders.iter() {
        if order.order_date >= window_end {
            continue;
        }
        if order.order_date < window_start {
            break;
        }
        if order.is_sale() {
            by_plan
                .entry(order.plan_id)
                .or_default()
                .entry(month_index(order.order_date))
                .or_insert_with(|| Tally::new(pricing))
                .add(order);
        }
    }
    let mut rows: Vec<PlanReportRow> = by_plan
        .into_iter()
        .map(|(plan_id, months)| {
            let mut total = Tally::new(pricing);
            let mut breakdown = Vec::with_capacity(months.len());
            for (month, tally) in months.iter().rev() {
                total.absorb(tally);
                for (_, native, native_f64, sales) in tally.by_currency() {
                    breakdown.push(PeriodRow {
                        period: month_label(*month),
                        revenue: native,
                        revenue_f64: native_f64,
                        sales,
                    });
                }
            }
            PlanReportRow {
                plan_id,
                plan_name: data
                    .plan(plan_id)
                    .map(|p| p.plan_name.clone())
                    .unwrap_or_default(),
                revenue: total.revenue(),
                revenue_f64: total.revenue_f64(),
                sales: total.sales,
                breakdown,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.revenue.cmp(&a.revenue).then(a.plan_id.cmp(&b.plan_id)));
    rows
}

/// One gateway of `/paymentMethods/report`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GatewayReportRow {
    pub name: &'static str,
    pub display_name: &'static str,
    pub revenue: Decimal,
    pub revenue_f64: f64,
    pub sales: u64,
}

/// `/paymentMethods/report`: every gateway with sales, all time, by revenue descending
/// (ties by code).
pub(crate) fn payment_methods_report(data: &SimData, pricing: &Pricing) -> Vec<GatewayReportRow> {
    // One tally per entry of GATEWAYS, found by address (or code): no hashing per order.
    let mut tallies = vec![Tally::new(pricing); GATEWAYS.len()];
    for order in data.orders.iter().filter(|o| o.is_sale()) {
        let same = |g: &Gateway| std::ptr::eq(g, order.gateway) || g.code == order.gateway.code;
        if let Some(at) = GATEWAYS.iter().position(same) {
            tallies[at].add(order);
        }
    }
    let mut rows: Vec<GatewayReportRow> = GATEWAYS
        .iter()
        .zip(tallies)
        .filter(|(_, tally)| tally.sales > 0)
        .map(|(gateway, tally)| GatewayReportRow {
            name: gateway.code,
            display_name: gateway.display_name,
            revenue: tally.revenue(),
            revenue_f64: tally.revenue_f64(),
            sales: tally.sales,
        })
        .collect();
    rows.sort_by(|a, b| b.revenue.cmp(&a.revenue).then(a.name.cmp(b.name)));
    rows
}

/// `/users/count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserCounts {
    pub users: u64,
    pub leads: u64,
    pub churned: u64,
    pub members: u64,
}

/// Members hold a membership ending after `now`; churned users held some, all ended.
pub(crate) fn users_count(data: &SimData, now: i64) -> UserCounts {
    let mut active: HashMap<u64, bool> = HashMap::with_capacity(data.memberships.len());
    for m in &data.memberships {
        *active.entry(m.member_id).or_default() |= m.end > now;
    }
    let members = active.values().filter(|a| **a).count() as u64;
    let churned = active.len() as u64 - members;
    let leads = data.leads.len() as u64;
    UserCounts {
        users: members + churned + leads,
        leads,
        churned,
        members,
    }
}

#[cfg(test)]
#[path = "reports_tests.rs"]
mod tests;
