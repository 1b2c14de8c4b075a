//! The deterministic data generator: plans, projects, coupons, memberships, leads and
//! orders from a seed, dated relative to "now". Also makes the orders the handle adds later.

use std::collections::VecDeque;

use fastrand::Rng;

use super::SimOptions;
use super::catalog::{make_coupons, make_plans, make_projects};
use super::model::{Membership, Order, Plan, SimData};
use super::orders::{new_order, pay_some_in_other_currencies};

pub(super) const DAY: i64 = 86_400;
/// Orders spread over about three years before "now".
pub const HISTORY_SECS: i64 = 3 * 365 * DAY;
/// Member names; some with apostrophes and non-ASCII letters.
pub(super) const NAMES: [&str; 24] = [
    "John Doe",
    "Mark Moe",
    "Sam Soe",
    "Jane Doe",
    "Tom",
    "Zoë O'Brien",
    "José Álvarez",
    "Анна Петрова",
    "李雷",
    "Priya Sharma",
    "Lukas Müller",
    "Amélie Dubois",
    "Kenji Sato",
    "Olivia Smith",
    "Mohammed Ali",
    "Chloé \"Coco\" Martin",
    "Noah Williams",
    "Sofia Rossi",
    "Mateus Oliveira",
    "Emma Johnson",
    "Yusuf Demir",
    "Ava Brown",
    "Ivan Ivanov",
    "Mia",
];

/// Builds the whole data set for `opts`, dated relative to `now` (UNIX seconds).
pub(super) fn generate(opts: &SimOptions, now: i64) -> SimData {
    let mut rng = Rng::with_seed(opts.seed);
    let projects = make_projects(&mut rng, opts.projects);
    let plans = make_plans(&mut rng, opts.plans, &projects);
    let coupons = make_coupons(&mut rng, opts.coupons, &plans);
    let leads_wanted = opts.leads.unwrap_or(opts.members / 2);
    let (memberships, leads) = make_users(&mut rng, opts.members, leads_wanted, &plans, now);
    let mut data = SimData {
        bot_id: opts.bot_id,
        preferred_currency: opts.preferred_currency,
        orders: VecDeque::new(),
        memberships,
        plans,
        projects,
        coupons,
        leads,
        next_order_serial: 1,
    };
    let mut orders = Vec::with_capacity(opts.orders);
    let mut previous_date = now;
    for i in 0..opts.orders {
        let date = if i > 0 && rng.f64() < 0.05 {
            previous_date
        } else {
            let age = match opts.history_days {
                None => (HISTORY_SECS as f64 * rng.f64().powf(1.5)) as i64,
                Some(days) => (i64::from(days) as f64 * DAY as f64 * rng.f64()) as i64,
            };
            now - age
        };
        previous_date = date;
        orders.push(new_order(&mut data, &mut rng, date, now));
    }
    orders.sort_unstable_by(Order::api_order);
    pay_some_in_other_currencies(&mut orders, opts);
    data.orders = VecDeque::from(orders);
    data
}

/// Memberships (some users hold several, on different plans; some all ended) and leads.
fn make_users(
    rng: &mut Rng,
    memberships_wanted: usize,
    leads_wanted: usize,
    plans: &[Plan],
    now: i64,
) -> (Vec<Membership>, Vec<u64>) {
    let mut memberships = Vec::with_capacity(memberships_wanted);
    let mut leads = Vec::with_capacity(leads_wanted);
    let mut next_user_id: u64 = 1_000_000_000;
    // Without plans there is nothing to hold a membership in.
    let mut remaining = if plans.is_empty() {
        0
    } else {
        memberships_wanted
    };
    while remaining > 0 || leads.len() < leads_wanted {
        next_user_id += rng.u64(1..=2_000);
        let leads_left = (leads_wanted - leads.len()) as f64;
        let holders_left = remaining as f64 / 1.3;
        if leads_left > 0.0 && rng.f64() * (leads_left + holders_left) < leads_left {
            leads.push(next_user_id);
            continue;
        }
        let roll = rng.f64();
        let wanted = if roll < 0.75 {
            1
        } else if roll < 0.95 {
            2
        } else {
            3
        };
        let k = wanted.min(plans.len()).min(remaining);
        let mut chosen: Vec<usize> = Vec::with_capacity(k);
        while chosen.len() < k {
            let p = rng.usize(..plans.len());
            if !chosen.contains(&p) {
                chosen.push(p);
            }
        }
        for p in chosen {
            let plan = &plans[p];
            let (start, end) = membership_span(rng, plan.duration_secs, now);
            memberships.push(Membership {
                member_id: next_user_id,
                plan_id: plan.plan_id,
                project_id: plan.project_id,
                start,
                end,
            });
        }
        remaining -= k;
    }
    rng.shuffle(&mut memberships);
    (memberships, leads)
}

/// `(start, end)`: 55% still running (end in the future), the rest ended.
fn membership_span(rng: &mut Rng, duration: i64, now: i64) -> (i64, i64) {
    if rng.f64() < 0.55 {
        let end = now + rng.i64(3_600..duration.max(7_200));
        let start = (end - duration * rng.i64(1..=4))
            .max(now - HISTORY_SECS)
            .min(now - 60);
        (start, end)
    } else {
        let end = now - rng.i64(DAY..2 * 365 * DAY);
        let start = end - duration * rng.i64(1..=3);
        (start, end)
    }
}

/// A member's display name, fixed by their id.
pub(super) fn name_for(member_id: u64) -> &'static str {
    let mut x = member_id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    NAMES[(x % NAMES.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::currency::Currency;
    use crate::sim::catalog::{SQL_COUPON_NAME, SQL_PLAN_NAME};
    use crate::sim::model::{Coupon, OrderStatus};
    use crate::sim::orders::discounted;
    use rust_decimal::{Decimal, RoundingStrategy};
    use std::collections::{HashMap, HashSet};

    const NOW: i64 = 1_721_283_834;

    fn small() -> SimData {
        generate(&SimOptions::default(), NOW)
    }

    #[test]
    fn same_seed_same_data() {
        assert_eq!(small(), small());
        let other = generate(
            &SimOptions {
                seed: 2,
                ..SimOptions::default()
            },
            NOW,
        );
        assert_ne!(small().orders, other.orders);
    }

    #[test]
    fn sizes_follow_the_options() {
        let data = small();
        assert_eq!(data.orders.len(), 500);
        assert_eq!(data.memberships.len(), 200);
        assert_eq!(data.plans.len(), 8);
        assert_eq!(data.projects.len(), 3);
        assert_eq!(data.coupons.len(), 4);
        assert_eq!(data.leads.len(), 100);
    }

    #[test]
    fn orders_are_sorted_unique_and_within_three_years() {
        let data = small();
        let keys: HashSet<&str> = data.orders.iter().map(|o| o.order_key.as_str()).collect();
        assert_eq!(keys.len(), data.orders.len(), "order keys must be unique");
        for pair in data.orders.iter().collect::<Vec<_>>().windows(2) {
            assert_eq!(
                Order::api_order(pair[0], pair[1]),
                std::cmp::Ordering::Less,
                "{} before {}",
                pair[0].order_key,
                pair[1].order_key
            );
        }
        assert!(data.orders.iter().all(|o| o.order_date <= NOW));
        assert!(
            data.orders
                .iter()
                .all(|o| o.order_date >= NOW - HISTORY_SECS)
        );
        let mut seconds: HashMap<i64, usize> = HashMap::new();
        for o in &data.orders {
            *seconds.entry(o.order_date).or_default() += 1;
        }
        assert!(
            seconds.values().any(|&n| n > 1),
            "some orders share a second"
        );
    }

    #[test]
    fn data_has_the_variety_tests_need() {
        let data = small();
        let currencies: HashSet<Currency> = data.orders.iter().map(|o| o.currency).collect();
        for c in [
            Currency::Eur,
            Currency::Usd,
            Currency::Gbp,
            Currency::Rub,
            Currency::Brl,
            Currency::Jpy,
            Currency::Btc,
        ] {
            assert!(currencies.contains(&c), "no order in {c}");
        }
        let statuses: HashSet<OrderStatus> = data.orders.iter().map(|o| o.order_status).collect();
        assert_eq!(statuses.len(), 4);
        assert!(data.orders.iter().any(|o| o.member_id == 0));
        assert!(data.orders.iter().any(|o| o.gateway.code == "authorizenet"));
        assert!(
            data.orders
                .iter()
                .any(|o| data.plan(o.plan_id).is_some_and(|p| p.price != o.amount)),
            "some orders are discounted"
        );
        assert!(data.plans.iter().any(|p| p.plan_name == SQL_PLAN_NAME));
        assert!(data.coupons.iter().any(|c| c.name == SQL_COUPON_NAME));
        let mut per_member: HashMap<u64, usize> = HashMap::new();
        for m in &data.memberships {
            *per_member.entry(m.member_id).or_default() += 1;
        }
        assert!(per_member.values().any(|&n| n > 1));
        let triples: HashSet<(u64, u64, u64)> = data
            .memberships
            .iter()
            .map(|m| (m.member_id, m.plan_id, m.project_id))
            .collect();
        assert_eq!(triples.len(), data.memberships.len());
        assert!(data.memberships.iter().any(|m| m.end < NOW));
        assert!(data.memberships.iter().any(|m| m.end > NOW));
        assert!(data.leads.iter().all(|l| !per_member.contains_key(l)));
        let styles = ["cs_", "TGM_", "TGM-", "-"];
        for style in styles {
            assert!(
                data.orders.iter().any(|o| o.order_key.contains(style)),
                "no key like {style}"
            );
        }
    }

    #[test]
    fn a_history_of_n_days_spreads_orders_evenly_over_them() {
        let days = 730;
        let opts = SimOptions {
            orders: 4_000,
            history_days: Some(days),
            ..SimOptions::default()
        };
        let data = generate(&opts, NOW);
        let span = i64::from(days) * DAY;
        assert!(
            data.orders
                .iter()
                .all(|o| o.order_date <= NOW && o.order_date >= NOW - span)
        );
        // Evenly: each half-year holds about a quarter of them (the default shape puts
        // most in the newest months).
        for quarter in 0..4 {
            let (from, to) = (NOW - span * (quarter + 1) / 4, NOW - span * quarter / 4);
            let n = data
                .orders
                .iter()
                .filter(|o| o.order_date > from && o.order_date <= to)
                .count();
            assert!((800..=1_200).contains(&n), "quarter {quarter}: {n} orders");
        }
        let zero = SimOptions {
            history_days: Some(0),
            ..SimOptions::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn some_orders_are_paid_in_another_currency_and_nothing_else_changes() {
        let opts = SimOptions {
            orders: 3_000,
            plans: 15,
            ..SimOptions::default()
        };
        let with = generate(&opts, NOW);
        let without = generate(
            &SimOptions {
                cross_currency_share: 0.0,
                ..opts.clone()
            },
            NOW,
        );
        assert_eq!(with.orders.len(), without.orders.len());
        let mut crossed: HashSet<Currency> = HashSet::new();
        let mut count = 0;
        for (a, b) in with.orders.iter().zip(&without.orders) {
            // Same order, same position: only what was paid can differ.
            assert_eq!(
                (&a.order_key, a.order_date, a.plan_id, a.order_status),
                (&b.order_key, b.order_date, b.plan_id, b.order_status)
            );
            let plan_currency = with.plan(a.plan_id).map(|p| p.currency);
            assert_eq!(plan_currency, Some(b.currency), "{}", b.order_key);
            if a.currency != b.currency {
                count += 1;
                crossed.insert(a.currency);
                // The same price at the simulator's rates, in the new minor unit.
                let want = crate::sim::rates::convert(b.amount, b.currency, a.currency)
                    .round_dp_with_strategy(
                        a.currency.minor_units(),
                        RoundingStrategy::MidpointAwayFromZero,
                    );
                assert_eq!(a.amount, want, "{}", a.order_key);
            } else {
                assert_eq!(a.amount, b.amount, "{}", a.order_key);
            }
        }
        // About 3% of 3,000, each at least two seconds from its neighbours.
        assert!((40..=130).contains(&count), "{count} cross-currency orders");
        assert!(crossed.len() >= 10, "paid in {crossed:?}");
        let orders: Vec<&Order> = with.orders.iter().collect();
        for (i, o) in orders.iter().enumerate() {
            if with
                .plan(o.plan_id)
                .is_some_and(|p| p.currency != o.currency)
            {
                let apart = |j: usize| (orders[j].order_date - o.order_date).abs() >= 2;
                assert!(
                    (i == 0 || apart(i - 1)) && (i + 1 == orders.len() || apart(i + 1)),
                    "{} has a neighbour within a second",
                    o.order_key
                );
            }
        }
        let bad = SimOptions {
            cross_currency_share: 1.5,
            ..SimOptions::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn plans_are_in_sort_order_and_projects_by_id() {
        let data = small();
        assert!(
            data.plans
                .windows(2)
                .all(|w| w[0].sort_order > w[1].sort_order)
        );
        assert!(
            data.projects
                .windows(2)
                .all(|w| w[0].project_id < w[1].project_id)
        );
        for p in &data.plans {
            assert!(data.projects.iter().any(|pr| pr.project_id == p.project_id));
        }
    }

    #[test]
    fn coupon_discounts_are_exact() {
        let coupon = |percent: i64, amount: i64| Coupon {
            name: "x".to_string(),
            amount: Decimal::from(amount),
            percent: Decimal::from(percent),
            min_amount: Decimal::ZERO,
            max_amount: Decimal::ZERO,
            uses: 0,
            used: 0,
            plans: vec![],
            payment_gateways: None,
            revenue: None,
            newcomers: false,
            singleuse: false,
            invitee_only: false,
            auto_apply: false,
            enabled: true,
        };
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            discounted(d("9.99"), &coupon(10, 0), Currency::Eur),
            d("8.99")
        );
        assert_eq!(
            discounted(d("99.99"), &coupon(33, 0), Currency::Usd),
            d("66.99")
        );
        assert_eq!(
            discounted(d("1500"), &coupon(15, 0), Currency::Jpy),
            d("1275")
        );
        assert_eq!(
            discounted(d("980"), &coupon(33, 0), Currency::Jpy),
            d("657")
        );
        assert_eq!(
            discounted(d("0.00025"), &coupon(11, 0), Currency::Btc),
            d("0.0002225")
        );
        assert_eq!(discounted(d("5"), &coupon(0, 1), Currency::Gbp), d("4"));
    }

    /// Generation speed is the benchmark's to measure (it prints the simulator's start-up
    /// time); here, a large data set comes out whole, in `/orders` order, keys unique.
    #[test]
    fn a_large_data_set_is_whole_sorted_and_unique() {
        let opts = SimOptions {
            orders: 200_000,
            members: 100_000,
            ..SimOptions::default()
        };
        let data = generate(&opts, NOW);
        assert_eq!(data.orders.len(), 200_000);
        assert!(
            data.orders
                .iter()
                .zip(data.orders.iter().skip(1))
                .all(|(a, b)| Order::api_order(a, b) == std::cmp::Ordering::Less)
        );
        let keys: HashSet<&str> = data.orders.iter().map(|o| o.order_key.as_str()).collect();
        assert_eq!(keys.len(), 200_000);
    }
}
