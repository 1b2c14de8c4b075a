//! The API client against the simulator: every endpoint, paging rules, faults, auth.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde_json::Value;
use tgm_sync::api::models::{PaymentMethodReport, PeriodFigures, PlanReport, RevenueReport};
use tgm_sync::api::pager::{PageRequest, Pager};
use tgm_sync::api::retry::RetryPolicy;
use tgm_sync::api::{ApiClient, ApiError, ApiVersion, ClientSettings, Method};
use tgm_sync::currency::Currency;
use tgm_sync::secret::ApiKey;
use tgm_sync::sim::rates::Arithmetic;
use tgm_sync::sim::{FaultOptions, Quirks, RequestInfo, SimData, rates};
use tgm_sync::streams::coupons::Coupon;
use tgm_sync::streams::members::Membership;
use tgm_sync::streams::orders::Order;
use tgm_sync::streams::payment_methods::PaymentMethod;
use tgm_sync::streams::plans::Plan;
use tgm_sync::streams::projects::Project;
use tgm_sync::streams::users_count::UsersCount;

use crate::support::*;

fn key_of(field: &'static str) -> fn(&Value) -> Option<String> {
    match field {
        "order_key" => |v| v.get("order_key").map(|k| k.to_string()),
        "name" => |v| v.get("name").map(|k| k.to_string()),
        _ => |v| Some(v.to_string()),
    }
}

async fn page_all(
    client: &ApiClient,
    method: Method,
    limit: u32,
    key: fn(&Value) -> Option<String>,
) -> Vec<Value> {
    let mut pager = Pager::new(
        client.clone(),
        PageRequest {
            method,
            params: Vec::new(),
            limit,
            pages_in_flight: 4,
            prefetch_pages: None,
            key_of: key,
            max_pages: u64::MAX,
        },
    );
    let mut rows = Vec::new();
    while let Some(page) = pager.next_page().await {
        rows.extend(page.expect("page").rows);
    }
    rows
}

fn dec(a: tgm_sync::money::Amount) -> Decimal {
    a.to_decimal().expect("fits rust_decimal")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_endpoint_matches_the_simulated_data() {
    let server = start_sim(sim_options(730, 260)).await;
    let client = client_for(&server);
    let data: SimData = server.handle.data();

    let orders: Vec<Order> = page_all(&client, Method::Orders, 100, key_of("order_key"))
        .await
        .into_iter()
        .map(|v| Order::from_json(v).expect("order parses"))
        .collect();
    assert_eq!(orders.len(), data.orders.len(), "every order once");
    for (got, want) in orders.iter().zip(&data.orders) {
        assert_eq!(got.order_key, want.order_key);
        assert_eq!(got.order_date, want.order_date);
        assert_eq!(got.order_status, want.order_status.as_str());
        assert_eq!(
            got.amount.map(dec),
            Some(want.amount),
            "amount of {}",
            want.order_key
        );
        assert_eq!(got.currency.as_deref(), Some(want.currency.code()));
        assert_eq!(
            got.payment_gateway.as_deref(),
            Some(want.gateway.display_name)
        );
        assert_eq!(got.member_id, Some(want.member_id as i64));
    }

    let members: BTreeSet<(i64, i64, i64)> =
        page_all(&client, Method::Members, 100, |v| Some(v.to_string()))
            .await
            .into_iter()
            .map(|v| Membership::from_json(v).expect("membership parses"))
            .map(|m| (m.member_id, m.plan_id, m.project_id))
            .collect();
    let want: BTreeSet<(i64, i64, i64)> = data
        .memberships
        .iter()
        .map(|m| (m.member_id as i64, m.plan_id as i64, m.project_id as i64))
        .collect();
    assert_eq!(members, want);
    assert!(
        data.memberships.len() > want.iter().map(|m| m.0).collect::<BTreeSet<_>>().len(),
        "some members hold several memberships"
    );

    let plans: Vec<Plan> = page_all(&client, Method::Plans, 100, |v| {
        v.get("plan_id").map(|k| k.to_string())
    })
    .await
    .into_iter()
    .map(|v| Plan::from_json(v).expect("plan parses"))
    .collect();
    let plan_ids: Vec<i64> = plans.iter().map(|p| p.plan_id).collect();
    let want_ids: Vec<i64> = data.plans.iter().map(|p| p.plan_id as i64).collect();
    assert_eq!(plan_ids, want_ids, "plans in sort_order");
    for (got, want) in plans.iter().zip(&data.plans) {
        assert_eq!(got.plan_name.as_deref(), Some(want.plan_name.as_str()));
        assert_eq!(got.price.map(dec), Some(want.price));
    }

    let projects: Vec<i64> = page_all(&client, Method::Projects, 100, |v| {
        v.get("project_id").map(|k| k.to_string())
    })
    .await
    .into_iter()
    .map(|v| Project::from_json(v).expect("project parses").project_id)
    .collect();
    assert_eq!(
        projects,
        data.projects
            .iter()
            .map(|p| p.project_id as i64)
            .collect::<Vec<_>>()
    );

    let coupons: BTreeSet<String> = page_all(&client, Method::Coupons, 100, key_of("name"))
        .await
        .into_iter()
        .map(|v| Coupon::from_json(v).expect("coupon parses").name)
        .collect();
    assert_eq!(
        coupons,
        data.coupons.iter().map(|c| c.name.clone()).collect()
    );

    let methods = client
        .get(&Method::PaymentMethods, &[])
        .await
        .expect("payment methods");
    let names: BTreeSet<String> = methods
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| PaymentMethod::from_json(v.clone()).expect("parses").name)
        .collect();
    let installed: BTreeSet<String> = tgm_sync::sim::GATEWAYS
        .iter()
        .filter(|g| g.installed)
        .map(|g| g.code.to_string())
        .collect();
    assert_eq!(names, installed);
    server.shutdown().await;
}

/// Revenue of sales with from <= order_date < to, each converted to `currency` at its
/// pair's 8-decimal rate and rounded to 8 decimals (docs/data-contract.md §2.2), summed here.
fn expected_revenue(data: &SimData, from: i64, to: i64, currency: Currency) -> (Decimal, i64) {
    let sales: Vec<_> = data
        .orders
        .iter()
        .filter(|o| o.is_sale() && o.order_date >= from && o.order_date < to)
        .collect();
    let sum = sales
        .iter()
        .map(|o| rates::convert_order(o.amount, o.currency, currency, Arithmetic::Quoted))
        .sum();
    (sum, sales.len() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_endpoints_match_sums_computed_here() {
    let server = start_sim(sim_options(900, 300)).await;
    let client = client_for(&server);
    let data = server.handle.data();
    let newest = data.orders.front().expect("orders").order_date;
    let oldest = data.orders.back().expect("orders").order_date;
    let (from, to) = (oldest + (newest - oldest) / 3, newest);

    for currency in [Currency::Eur, Currency::Usd, Currency::Jpy, Currency::Btc] {
        let value = client
            .get(
                &Method::Revenue,
                &[
                    ("from", from.to_string()),
                    ("to", to.to_string()),
                    ("currency", currency.query_value()),
                ],
            )
            .await
            .expect("revenue");
        let report = RevenueReport::from_json(value).expect("revenue parses");
        let (want, sales) = expected_revenue(&data, from, to, currency);
        assert_eq!(report.figures.sales, sales, "{currency} sales");
        assert_eq!(report.figures.currency, currency.code());
        assert_eq!(dec(report.figures.revenue), want, "{currency}");
    }

    // Without a currency: the bot's preferred one, EUR when none is set.
    let value = client
        .get(
            &Method::Revenue,
            &[("from", "0".into()), ("to", i64::MAX.to_string())],
        )
        .await
        .expect("revenue");
    assert_eq!(
        RevenueReport::from_json(value)
            .expect("parses")
            .figures
            .currency,
        "EUR"
    );

    // /orders/count by month: newest first, zero-filled, sales counted here.
    let value = client
        .get(
            &Method::OrdersCount,
            &[
                ("interval_unit", "month".into()),
                ("interval_count", "4".into()),
                ("currency", "usd".into()),
            ],
        )
        .await
        .expect("orders/count");
    let periods: Vec<PeriodFigures> = value
        .as_array()
        .expect("list")
        .iter()
        .map(|v| PeriodFigures::from_json(v.clone()).expect("parses"))
        .collect();
    assert_eq!(periods.len(), 4);
    let mut by_month: BTreeMap<String, i64> = BTreeMap::new();
    for o in data.orders.iter().filter(|o| o.is_sale()) {
        let month = chrono::DateTime::from_timestamp(o.order_date, 0)
            .expect("ts")
            .format("%Y-%m")
            .to_string();
        *by_month.entry(month).or_default() += 1;
    }
    let now = chrono::DateTime::from_timestamp(pinned_now(), 0).expect("pinned time");
    assert_eq!(
        periods[0].period,
        now.format("%Y-%m").to_string(),
        "newest period first"
    );
    for p in &periods {
        assert_eq!(
            p.figures.sales,
            by_month.get(&p.period).copied().unwrap_or(0),
            "sales in {}",
            p.period
        );
    }

    // /paymentMethods/report: sales per gateway code, all time.
    let value = client
        .get(&Method::PaymentMethodsReport, &[])
        .await
        .expect("report");
    let gateways: Vec<PaymentMethodReport> = value
        .as_array()
        .expect("list")
        .iter()
        .map(|v| PaymentMethodReport::from_json(v.clone()).expect("parses"))
        .collect();
    let mut want: BTreeMap<&str, i64> = BTreeMap::new();
    for o in data.orders.iter().filter(|o| o.is_sale()) {
        *want.entry(o.gateway.code).or_default() += 1;
    }
    let got: BTreeMap<&str, i64> = gateways
        .iter()
        .map(|g| (g.name.as_str(), g.figures.sales))
        .collect();
    assert_eq!(got, want);
    assert!(
        got.contains_key("authorizenet"),
        "the historical gateway is reported"
    );

    // /plans/report: sales in the current month and the 5 before.
    let value = client
        .get(&Method::PlansReport, &[("currency", "gbp".into())])
        .await
        .expect("report");
    let plans: Vec<PlanReport> = value
        .as_array()
        .expect("list")
        .iter()
        .map(|v| PlanReport::from_json(v.clone()).expect("parses"))
        .collect();
    for plan in &plans {
        let months: i64 = plan.breakdown.iter().map(|b| b.figures.sales).sum();
        assert_eq!(
            months, plan.figures.sales,
            "breakdown of plan {} adds up",
            plan.plan_id
        );
    }
    let revenues: Vec<Decimal> = plans.iter().map(|p| dec(p.figures.revenue)).collect();
    assert!(
        revenues.windows(2).all(|w| w[0] >= w[1]),
        "plans by revenue descending"
    );

    // /users/count from the memberships and leads.
    let value = client
        .get(&Method::UsersCount, &[])
        .await
        .expect("users/count");
    let counts = UsersCount::from_json(value).expect("parses");
    let now = now.timestamp();
    let mut per_user: BTreeMap<u64, bool> = BTreeMap::new();
    for m in &data.memberships {
        *per_user.entry(m.member_id).or_default() |= m.end > now;
    }
    let members = per_user.values().filter(|a| **a).count() as i64;
    let churned = per_user.values().filter(|a| !**a).count() as i64;
    assert_eq!(counts.members, Some(members));
    assert_eq!(counts.churned, Some(churned));
    assert_eq!(counts.leads, Some(data.leads.len() as i64));
    assert_eq!(
        counts.users,
        Some(members + churned + data.leads.len() as i64)
    );

    // /orders/{order_key}
    let some = &data.orders[3];
    let value = client
        .get(&Method::Order(some.order_key.clone()), &[])
        .await
        .expect("order");
    let order = Order::from_json(value).expect("parses");
    assert_eq!(order.order_key, some.order_key);
    assert_eq!(order.order_status, some.order_status.as_str());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_under_faults_returns_every_order_exactly_once() {
    let mut options = sim_options(5_000, 50);
    options.faults = FaultOptions {
        share_5xx: 0.20,
        share_429: 0.10,
        retry_after_secs: Some(0),
        share_truncated: 0.05,
        ..FaultOptions::default()
    };
    let server = start_sim(options).await;
    let client = client_for(&server);
    let rows = page_all(&client, Method::Orders, 100, key_of("order_key")).await;
    let keys: Vec<String> = rows
        .into_iter()
        .map(|v| Order::from_json(v).expect("order parses").order_key)
        .collect();
    let unique: BTreeSet<&String> = keys.iter().collect();
    let data = server.handle.data();
    assert_eq!(keys.len(), 5_000, "no order lost or repeated");
    assert_eq!(unique.len(), 5_000);
    assert!(data.orders.iter().all(|o| unique.contains(&o.order_key)));
    let injected = server.handle.requests().faults.total();
    assert!(injected > 10, "faults were injected ({injected})");
    assert_eq!(
        client.stats().retries(),
        injected,
        "one retry per injected fault"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_api_is_given_up_within_the_bound_naming_endpoint_and_cause() {
    let mut options = sim_options(50, 10);
    options.faults = FaultOptions {
        share_5xx: 1.0,
        ..FaultOptions::default()
    };
    let server = start_sim(options).await;
    let client = client_for(&server);
    let started = std::time::Instant::now();
    let err = client
        .get(&Method::Plans, &[])
        .await
        .expect_err("always 5xx");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "gave up within the bound"
    );
    match &err {
        ApiError::Unavailable {
            endpoint,
            attempts,
            cause,
            ..
        } => {
            assert_eq!(endpoint, "/plans");
            assert_eq!(*attempts, fast_retry().max_attempts);
            assert!(cause.contains("HTTP 5"), "cause names the status: {cause}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(
        server.handle.requests().get("plans"),
        u64::from(fast_retry().max_attempts)
    );
    let text = err.to_string();
    assert!(
        text.contains("/plans") && !text.contains(TEST_KEY),
        "{text}"
    );
    server.shutdown().await;
}

/// After each 429 the pacer slows the bot's requests down (up to 5 s apart); those waits
/// count against the retry budget like the backoff's own, so a 429 storm ends within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_given_up_within_the_retry_budget() {
    let mut options = sim_options(50, 10);
    options.faults = FaultOptions {
        share_429: 1.0,
        ..FaultOptions::default()
    };
    let server = start_sim(options).await;
    let mut settings = ClientSettings::new(server.base_url(), BOT, ApiKey::new(TEST_KEY));
    let budget = std::time::Duration::from_secs(2);
    settings.retry = RetryPolicy {
        max_elapsed: budget,
        ..fast_retry()
    };
    let client = ApiClient::new(settings).expect("client");
    let started = std::time::Instant::now();
    let err = client
        .get(&Method::Plans, &[])
        .await
        .expect_err("always 429");
    let elapsed = started.elapsed();
    // Without the pacer's waits in the budget, 12 attempts waited about 26 s here
    // (50 ms doubling up to 5 s between them).
    assert!(
        elapsed <= budget + std::time::Duration::from_secs(1),
        "gave up within the budget: {elapsed:?}"
    );
    let attempts = match &err {
        ApiError::Unavailable {
            attempts, cause, ..
        } => {
            assert!(cause.contains("429"), "cause names the status: {cause}");
            *attempts
        }
        other => panic!("expected Unavailable, got {other:?}"),
    };
    assert!(
        (2..fast_retry().max_attempts).contains(&attempts),
        "the budget, not the attempt cap, ended it: {attempts} attempts"
    );
    assert_eq!(server.handle.requests().get("plans"), u64::from(attempts));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_at_once_naming_the_bot() {
    let server = start_sim(sim_options(50, 10)).await;
    let mut settings = ClientSettings::new(server.base_url(), BOT, ApiKey::new("wrong-key-123456"));
    settings.retry = fast_retry();
    let client = ApiClient::new(settings).expect("client");
    let err = client.get(&Method::Orders, &[]).await.expect_err("401");
    assert!(
        matches!(
            err,
            ApiError::Unauthorized {
                bot_id,
                status: 401,
                ..
            } if bot_id == BOT
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&BOT_ID.to_string()));
    assert!(!err.to_string().contains("wrong-key-123456"));
    assert_eq!(server.handle.requests().total, 1, "no retries on 401");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupons_ignoring_limit_and_offset_do_not_loop() {
    let mut options = sim_options(20, 10);
    options.coupons = 7;
    let server = start_sim(options).await;
    let client = client_for(&server);
    // A limit smaller than the coupon count: an endpoint honouring it would page; the
    // simulator ignores it and repeats all 7 every time.
    let rows = page_all(&client, Method::Coupons, 3, key_of("name")).await;
    assert_eq!(rows.len(), 7, "each coupon once");
    // The first page, then at most one window of pages in flight before the repeat is seen.
    let requests = server.handle.requests().get("coupons");
    assert!(
        (2..=5).contains(&requests),
        "stopped after the repeated page ({requests} requests)"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_api_maps_what_exists_and_names_the_version_for_the_rest() {
    let server = start_sim(sim_options(200, 80)).await;
    let mut settings = ClientSettings::new(server.base_url(), BOT, ApiKey::new(TEST_KEY));
    settings.api_version = ApiVersion::Legacy;
    let client = ApiClient::new(settings).expect("client");
    let members = client
        .get(&Method::Members, &[("limit", "1000".into())])
        .await
        .expect("getSubscribers");
    assert_eq!(
        members.as_array().map(Vec::len),
        Some(server.handle.data().memberships.len().min(1000))
    );
    let counts = client
        .get(&Method::UsersCount, &[])
        .await
        .expect("countUsers");
    assert!(
        UsersCount::from_json(counts)
            .expect("parses")
            .users
            .is_some()
    );
    let err = client
        .get(&Method::Orders, &[])
        .await
        .expect_err("no orders in legacy");
    assert!(err.to_string().contains("legacy"), "{err}");
    assert!(
        !server.handle.requests().by_path.contains_key("orders"),
        "no request was sent"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_url_syntax_in_it_reaches_the_api_intact() {
    let key = "we%ird?x=1#frag ment";
    let mut options = sim_options(20, 10);
    options.api_key = key.to_string();
    let server = start_sim(options).await;
    let mut settings = ClientSettings::new(server.base_url(), BOT, ApiKey::new(key));
    settings.retry = fast_retry();
    let client = ApiClient::new(settings).expect("client");
    let plans = client
        .get(&Method::Plans, &[])
        .await
        .expect("the key is accepted");
    assert_eq!(
        plans.as_array().map(Vec::len),
        Some(server.handle.data().plans.len())
    );
    server.shutdown().await;
}

/// `/paymentMethods/report` likewise: its sample's `path` is `/payment_methods/report`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_methods_report_falls_back_to_the_samples_spelling_once() {
    let server = start_sim(sim_options(60, 10)).await;
    let want = client_for(&server)
        .get_list(&Method::PaymentMethodsReport, &[])
        .await
        .expect("the report under its heading's spelling");
    server.handle.set_quirks(Quirks {
        payment_methods_snake: true,
        ..Quirks::default()
    });
    server.handle.reset_counts();
    let client = client_for(&server);
    let first = client
        .get_list(&Method::PaymentMethodsReport, &[])
        .await
        .expect("answered under the other spelling");
    assert_eq!(first, want);
    let again = client
        .for_stream("report inputs")
        .get_list(&Method::PaymentMethodsReport, &[])
        .await
        .expect("answered");
    assert_eq!(again, want);
    let counts = server.handle.requests();
    assert_eq!(
        counts.total, 3,
        "one 404, then the other spelling, remembered: {counts:?}"
    );
    server.shutdown().await;
}

/// The API text's headings say `/paymentMethods`, its sample's `path` `/payment_methods`:
/// on a 404 the client tries the other spelling once, and keeps to it for the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_methods_falls_back_to_the_samples_spelling_once() {
    let server = start_sim(sim_options(20, 10)).await;
    server.handle.set_quirks(Quirks {
        payment_methods_snake: true,
        ..Quirks::default()
    });
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    server.handle.set_response_hook(Some(std::sync::Arc::new(
        move |info: &RequestInfo, _: &mut Value| {
            sink.lock()
                .expect("log")
                .push((info.raw_method.clone(), info.status));
        },
    )));
    let client = client_for(&server);
    let first = client
        .get_list(&Method::PaymentMethods, &[])
        .await
        .expect("answered under the other spelling");
    assert!(!first.is_empty(), "installed gateways");
    let again = client
        .for_stream("payment_methods")
        .get_list(&Method::PaymentMethods, &[])
        .await
        .expect("answered");
    assert_eq!(first, again);
    let methods: Vec<String> = seen
        .lock()
        .expect("log")
        .iter()
        .map(|(m, _)| m.clone())
        .collect();
    assert_eq!(
        methods,
        ["paymentMethods", "payment_methods", "payment_methods"],
        "one 404, then the other spelling, remembered"
    );
    server.shutdown().await;
}
