//! The read-only API methods: which URL names map to which method (v1 and legacy), and
//! each method's `result` computed from the data under the request's parameters.

use serde_json::Value;

use super::model::{GATEWAYS, Order, SimData};
use super::params::{ApiError, Params};
use super::render::Render;
use super::reports::{self, Pricing};

/// A method the simulator serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Endpoint {
    Orders,
    Order(String),
    OrdersCount,
    Members,
    Plans,
    PlansReport,
    Projects,
    Coupons,
    PaymentMethods,
    PaymentMethodsReport,
    Revenue,
    UsersCount,
}

impl Endpoint {
    /// The v1 method for a path after the key (`Orders`, `orders/ABC`, `paymentMethods/report`).
    pub(super) fn v1(method: &str) -> Option<Endpoint> {
        let method = method.trim_matches('/');
        let lower = method.to_ascii_lowercase();
        let endpoint = match lower.as_str() {
            "orders" => Endpoint::Orders,
            "orders/count" => Endpoint::OrdersCount,
            "members" => Endpoint::Members,
            "plans" => Endpoint::Plans,
            "plans/report" => Endpoint::PlansReport,
            "projects" => Endpoint::Projects,
            "coupons" => Endpoint::Coupons,
            "paymentmethods" | "payment_methods" => Endpoint::PaymentMethods,
            "paymentmethods/report" | "payment_methods/report" => Endpoint::PaymentMethodsReport,
            "revenue" => Endpoint::Revenue,
            "users/count" => Endpoint::UsersCount,
            _ => {
                let key = method.get("orders/".len()..)?;
                if !lower.starts_with("orders/") || key.is_empty() || key.contains('/') {
                    return None;
                }
                Endpoint::Order(key.to_string())
            }
        };
        Some(endpoint)
    }

    /// The legacy (unversioned) method names, mapped to their v1 equivalents.
    pub(super) fn legacy(method: &str) -> Option<Endpoint> {
        match method.trim_matches('/').to_ascii_lowercase().as_str() {
            "getsubscribers" => Some(Endpoint::Members),
            "getplans" => Some(Endpoint::Plans),
            "getrevenue" => Some(Endpoint::Revenue),
            "countorders" => Some(Endpoint::OrdersCount),
            "countusers" => Some(Endpoint::UsersCount),
            "mostpopularpaymentmethods" => Some(Endpoint::PaymentMethodsReport),
            "plansperformance" => Some(Endpoint::PlansReport),
            _ => None,
        }
    }

    /// The canonical lower-case method path requests are counted under.
    pub(super) fn path(&self) -> &'static str {
        match self {
            Endpoint::Orders => "orders",
            Endpoint::Order(_) => "orders/key",
            Endpoint::OrdersCount => "orders/count",
            Endpoint::Members => "members",
            Endpoint::Plans => "plans",
            Endpoint::PlansReport => "plans/report",
            Endpoint::Projects => "projects",
            Endpoint::Coupons => "coupons",
            Endpoint::PaymentMethods => "paymentmethods",
            Endpoint::PaymentMethodsReport => "paymentmethods/report",
            Endpoint::Revenue => "revenue",
            Endpoint::UsersCount => "users/count",
        }
    }

    /// The `result` of this method, or the error to answer with.
    pub(super) fn result(
        &self,
        data: &SimData,
        params: &Params<'_>,
        render: Render,
        now: i64,
    ) -> Result<Value, ApiError> {
        match self {
            Endpoint::Orders => orders(data, params, render),
            Endpoint::Order(key) => data
                .order(key)
                .map(|o| render.order_detail(o))
                .ok_or_else(|| ApiError::not_found(format!("no order with key `{key}`"))),
            Endpoint::OrdersCount => orders_count(data, params, render, now),
            Endpoint::Members => members(data, params, render),
            Endpoint::Plans => plans(data, params, render),
            Endpoint::PlansReport => plans_report(data, params, render, now),
            Endpoint::Projects => projects(data, params, render),
            // Deliberately ignores limit/offset: the whole list every time.
            Endpoint::Coupons => Ok(data.coupons.iter().map(|c| render.coupon(c)).collect()),
            Endpoint::PaymentMethods => Ok(GATEWAYS
                .iter()
                .filter(|g| g.installed)
                .map(|g| render.gateway(g))
                .collect()),
            Endpoint::PaymentMethodsReport => payment_methods_report(data, params, render),
            Endpoint::Revenue => revenue(data, params, render),
            Endpoint::UsersCount => Ok(render.users(&reports::users_count(data, now))),
        }
    }
}

/// `/orders/count`: the last `interval_count` periods of `interval_unit` up to `now`'s,
/// in the asked currency (see [`reports::orders_count`]).
fn orders_count(
    data: &SimData,
    params: &Params<'_>,
    render: Render,
    now: i64,
) -> Result<Value, ApiError> {
    let unit = params.interval_unit()?;
    let count = params.interval_count()?;
    let currency = data.report_currency(params.currency()?);
    let rows = {
        let pricing = Pricing::new(currency, render.quirks.arithmetic());
        reports::orders_count(data, now, unit, count, &pricing)
    };
    Ok(rows.iter().map(|r| render.period(r, currency)).collect())
}

/// `/members`: a slice of the memberships, or a filtered scan.
fn members(data: &SimData, params: &Params<'_>, render: Render) -> Result<Value, ApiError> {
    let member = params.member_id()?;
    let plan = params.positive_id("plan_id")?;
    let project = params.positive_id("project_id")?;
    let limit = params.limit(1000)?;
    let offset = params.offset()?;
    let all = &data.memberships;
    if member.is_none() && plan.is_none() && project.is_none() {
        // Unfiltered pages are slices: no scan past the offset.
        let start = offset.min(all.len());
        let end = start.saturating_add(limit).min(all.len());
        return Ok(all[start..end]
            .iter()
            .map(|m| render.membership(m))
            .collect());
    }
    Ok(all
        .iter()
        .filter(|m| member.is_none_or(|id| m.member_id == id))
        .filter(|m| plan.is_none_or(|id| m.plan_id == id))
        .filter(|m| project.is_none_or(|id| m.project_id == id))
        .skip(offset)
        .take(limit)
        .map(|m| render.membership(m))
        .collect())
}

/// `/plans`, filtered by plan and project.
fn plans(data: &SimData, params: &Params<'_>, render: Render) -> Result<Value, ApiError> {
    let plan = params.positive_id("plan_id")?;
    let project = params.positive_id("project_id")?;
    let limit = params.limit(100)?;
    let offset = params.offset()?;
    Ok(data
        .plans
        .iter()
        .filter(|p| plan.is_none_or(|id| p.plan_id == id))
        .filter(|p| project.is_none_or(|id| p.project_id == id))
        .skip(offset)
        .take(limit)
        .map(|p| render.plan(p))
        .collect())
}

/// `/plans/report` as of `now`, in the asked currency (see [`reports::plans_report`]).
fn plans_report(
    data: &SimData,
    params: &Params<'_>,
    render: Render,
    now: i64,
) -> Result<Value, ApiError> {
    let currency = data.report_currency(params.currency()?);
    let rows = {
        let pricing = Pricing::new(currency, render.quirks.arithmetic());
        reports::plans_report(data, now, &pricing)
    };
    Ok(rows
        .iter()
        .map(|r| render.plan_report(r, currency))
        .collect())
}

/// `/projects`, filtered by project.
fn projects(data: &SimData, params: &Params<'_>, render: Render) -> Result<Value, ApiError> {
    let project = params.positive_id("project_id")?;
    let limit = params.limit(100)?;
    let offset = params.offset()?;
    Ok(data
        .projects
        .iter()
        .filter(|p| project.is_none_or(|id| p.project_id == id))
        .skip(offset)
        .take(limit)
        .map(|p| render.project(p))
        .collect())
}

/// `/paymentMethods/report`, in the asked currency (see
/// [`reports::payment_methods_report`]).
fn payment_methods_report(
    data: &SimData,
    params: &Params<'_>,
    render: Render,
) -> Result<Value, ApiError> {
    let currency = data.report_currency(params.currency()?);
    let rows = {
        let pricing = Pricing::new(currency, render.quirks.arithmetic());
        reports::payment_methods_report(data, &pricing)
    };
    Ok(rows
        .iter()
        .map(|r| render.gateway_report(r, currency))
        .collect())
}

/// `/revenue`: the sales from `from` up to `to`, in the asked currency.
fn revenue(data: &SimData, params: &Params<'_>, render: Render) -> Result<Value, ApiError> {
    let from = params.timestamp("from")?;
    let to = params.timestamp("to")?;
    let currency = data.report_currency(params.currency()?);
    let report = {
        let pricing = Pricing::new(currency, render.quirks.arithmetic());
        reports::revenue(data, from, to, &pricing)
    };
    Ok(render.revenue(&report, currency))
}

/// `/orders`: a slice of the newest-first list, or a filtered scan.
fn orders(data: &SimData, params: &Params<'_>, render: Render) -> Result<Value, ApiError> {
    let member = params.member_id()?;
    let plan = params.positive_id("plan_id")?;
    let project = params.positive_id("project_id")?;
    let status = params.order_status()?;
    let currency = params.currency()?;
    let limit = params.limit(100)?;
    let offset = params.offset()?;
    let row = |o: &Order| {
        let plan_name = data.plan(o.plan_id).map_or("", |p| p.plan_name.as_str());
        render.order(o, plan_name, currency)
    };
    let filtered = member.is_some() || plan.is_some() || project.is_some() || status.is_some();
    let rows: Vec<Value> = if filtered {
        data.orders
            .iter()
            .filter(|o| member.is_none_or(|id| o.member_id == id))
            .filter(|o| plan.is_none_or(|id| o.plan_id == id))
            .filter(|o| project.is_none_or(|id| o.project_id == id))
            .filter(|o| status.is_none_or(|s| o.order_status == s))
            .skip(offset)
            .take(limit)
            .map(row)
            .collect()
    } else {
        let len = data.orders.len();
        let start = offset.min(len);
        let end = start.saturating_add(limit).min(len);
        data.orders.range(start..end).map(row).collect()
    };
    Ok(Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_names_are_case_insensitive() {
        assert_eq!(Endpoint::v1("Orders"), Some(Endpoint::Orders));
        assert_eq!(Endpoint::v1("orders/"), Some(Endpoint::Orders));
        assert_eq!(Endpoint::v1("ORDERS/COUNT"), Some(Endpoint::OrdersCount));
        assert_eq!(
            Endpoint::v1("paymentMethods/Report"),
            Some(Endpoint::PaymentMethodsReport)
        );
        assert_eq!(
            Endpoint::v1("Orders/cs_test_AbC"),
            Some(Endpoint::Order("cs_test_AbC".to_string()))
        );
        assert_eq!(Endpoint::v1("orders/a/b"), None);
        assert_eq!(Endpoint::v1("getSubscribers"), None);
        assert_eq!(Endpoint::v1(""), None);
    }

    #[test]
    fn legacy_names_map_to_v1() {
        assert_eq!(Endpoint::legacy("getSubscribers"), Some(Endpoint::Members));
        assert_eq!(Endpoint::legacy("COUNTUSERS"), Some(Endpoint::UsersCount));
        assert_eq!(
            Endpoint::legacy("mostPopularPaymentMethods").map(|e| e.path()),
            Some("paymentmethods/report")
        );
        assert_eq!(Endpoint::legacy("orders"), None);
    }
}
