//! The deterministic data generator: plans, projects, coupons, memberships, leads and
//! orders from a seed, dated relative to "now". Also makes the orders the handle adds later.

use std::collections::VecDeque;

use fastrand::Rng;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::currency::Currency;

use super::SimOptions;
use super::keys::order_key;
use super::model::{
    Coupon, CouponRevenue, Gateway, Membership, Order, OrderStatus, Plan, PlanOptions, Project,
    SimData, gateway,
};
use super::rates::convert;

const DAY: i64 = 86_400;
/// Orders spread over about three years before "now".
pub const HISTORY_SECS: i64 = 3 * 365 * DAY;
/// Orders older than this may use the historical gateway (`authorizenet`).
const HISTORICAL_GATEWAY_AGE: i64 = 540 * DAY;

/// The name a plan and a coupon carry to test the loader's quoting.
pub const SQL_PLAN_NAME: &str = "O'Brien \"VIP\"; DROP TABLE plans;--";
pub const SQL_COUPON_NAME: &str = "O'Brien \"VIP\"; DROP TABLE orders;--";

/// Member names; some with apostrophes and non-ASCII letters.
const NAMES: [&str; 24] = [
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

const PLAN_CURRENCIES: [Currency; 15] = [
    Currency::Eur,
    Currency::Usd,
    Currency::Gbp,
    Currency::Rub,
    Currency::Brl,
    Currency::Jpy,
    Currency::Eur,
    Currency::Btc,
    Currency::Usd,
    Currency::Cad,
    Currency::Aud,
    Currency::Nzd,
    Currency::Cny,
    Currency::Inr,
    Currency::Try,
];

const DURATIONS: [(&str, i64); 8] = [
    ("1 month", 30 * DAY),
    ("2 days", 2 * DAY),
    ("1 year", 365 * DAY),
    ("1 week", 7 * DAY),
    ("3 months", 90 * DAY),
    ("1 month", 30 * DAY),
    ("6 months", 180 * DAY),
    ("1 month", 30 * DAY),
];

const PLAN_TIERS: [&str; 8] = [
    "Monthly",
    "Trial",
    "Annual",
    "Weekly",
    "Quarterly",
    "Premium",
    "Half-year",
    "Pro",
];

const PROJECT_NAMES: [&str; 8] = [
    "Basketball",
    "Football",
    "Tennis",
    "Crypto Signals",
    "Chess Club",
    "Yoga",
    "Poker",
    "Trading",
];

/// Prices a plan in this currency may have, as `(mantissa, scale)`.
fn price_choices(currency: Currency) -> &'static [(i64, u32)] {
    match currency {
        Currency::Eur => &[(999, 2), (123, 2), (49, 0), (45, 1)],
        Currency::Usd => &[(9999, 2), (1999, 2), (5, 0)],
        Currency::Gbp => &[(5, 0), (125, 1)],
        Currency::Rub => &[(1000, 0), (499, 0), (2500, 0)],
        Currency::Brl => &[(499, 1), (25, 0)],
        Currency::Jpy => &[(1500, 0), (980, 0)],
        Currency::Btc => &[(25, 5), (12, 4)],
        Currency::Cad => &[(125, 1)],
        Currency::Aud => &[(1495, 2)],
        Currency::Nzd => &[(15, 0)],
        Currency::Cny => &[(68, 0)],
        Currency::Inr => &[(799, 0)],
        Currency::Try => &[(350, 0)],
    }
}

/// Builds the whole data set for `opts`, dated relative to `now` (UNIX seconds).
pub fn generate(opts: &SimOptions, now: i64) -> SimData {
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

/// Seeds the choice of cross-currency orders apart from the main generator, so turning
/// them on or off leaves every other order of a seed as it was.
const CROSS_CURRENCY_SEED: u64 = 0xC055_C0DE;

/// Makes about `opts.cross_currency_share` of `orders` (in `/orders` order) paid in
/// another of the 13 currencies than their plan's, as the API text's sample shows (a TRY
/// sale on a USD plan): the same price, converted at the simulator's rates and rounded
/// to the new currency's minor unit.
///
/// Only an order at least two seconds from both neighbours is chosen. The ETL reads
/// each currency's rate off `/revenue` over a window of sales in that currency alone
/// (src/fx/windows.rs), so a currency whose only sales shared a second with other
/// currencies would have no rate, and every report in it would fail.
fn pay_some_in_other_currencies(orders: &mut [Order], opts: &SimOptions) {
    if opts.cross_currency_share <= 0.0 {
        return;
    }
    let mut rng = Rng::with_seed(opts.seed ^ CROSS_CURRENCY_SEED);
    let apart = |a: &Order, b: &Order| (a.order_date - b.order_date).abs() >= 2;
    for i in 0..orders.len() {
        // One draw per order whatever its neighbours, so the choice is stable.
        let roll = rng.f64();
        let pick = rng.usize(..Currency::ALL.len() - 1);
        let alone = (i == 0 || apart(&orders[i - 1], &orders[i]))
            && (i + 1 == orders.len() || apart(&orders[i], &orders[i + 1]));
        if roll >= opts.cross_currency_share || !alone {
            continue;
        }
        let order = &mut orders[i];
        let others: Vec<Currency> = Currency::ALL
            .into_iter()
            .filter(|c| *c != order.currency)
            .collect();
        let to = others[pick % others.len()];
        let amount = convert(order.amount, order.currency, to)
            .round_dp_with_strategy(to.minor_units(), RoundingStrategy::MidpointAwayFromZero);
        // A price too small for the new currency's minor unit stays as it was.
        if amount > Decimal::ZERO {
            order.amount = amount;
            order.currency = to;
        }
    }
}

fn make_projects(rng: &mut Rng, count: usize) -> Vec<Project> {
    let mut next_id = 1;
    (0..count)
        .map(|i| {
            let base = PROJECT_NAMES[i % PROJECT_NAMES.len()];
            let project_name = if i < PROJECT_NAMES.len() {
                base.to_string()
            } else {
                format!("{base} {}", i / PROJECT_NAMES.len() + 1)
            };
            let project = Project {
                project_id: next_id,
                project_name,
                sort_order: (i % 2 == 0).then(|| 100 - 10 * i as i64),
                is_hidden: i % 3 == 2,
            };
            next_id += rng.u64(1..=8);
            project
        })
        .collect()
}

fn make_plans(rng: &mut Rng, count: usize, projects: &[Project]) -> Vec<Plan> {
    let sql_index = count.min(4).saturating_sub(1);
    let mut sort_orders: Vec<i64> = (1..=count as i64).map(|i| i * 10).collect();
    rng.shuffle(&mut sort_orders);
    let mut next_id = 11;
    let mut plans: Vec<Plan> = (0..count)
        .map(|i| {
            let currency = PLAN_CURRENCIES[i % PLAN_CURRENCIES.len()];
            let (duration, duration_secs) = DURATIONS[i % DURATIONS.len()];
            let choices = price_choices(currency);
            let (mantissa, scale) = choices[rng.usize(..choices.len())];
            let plan_name = if i == sql_index {
                SQL_PLAN_NAME.to_string()
            } else if i == 4 {
                "Clube VIP — São Paulo".to_string()
            } else {
                let tier = PLAN_TIERS[i % PLAN_TIERS.len()];
                match i / PLAN_TIERS.len() {
                    0 => format!("{tier} ({currency})"),
                    n => format!("{tier} {} ({currency})", n + 1),
                }
            };
            let project_id = match projects.len() {
                0 => 0,
                n => projects[i % n].project_id,
            };
            let plan = Plan {
                plan_id: next_id,
                plan_name,
                duration: duration.to_string(),
                duration_secs,
                price: Decimal::new(mantissa, scale),
                currency,
                project_id,
                options: PlanOptions {
                    recurring: i % 3 == 0,
                    newcomers: 0,
                    singleuse: 0,
                    token_only: false,
                    credit_only: false,
                    invitee_only: 0,
                    is_hidden: i % 4 == 3,
                },
                max_customers: if i % 5 == 2 { 100 } else { 0 },
                sort_order: sort_orders[i],
                enabled: i != 5,
            };
            next_id += rng.u64(1..=9);
            plan
        })
        .collect();
    plans.sort_by_key(|p| std::cmp::Reverse(p.sort_order));
    plans
}

fn make_coupons(rng: &mut Rng, count: usize, plans: &[Plan]) -> Vec<Coupon> {
    let all_ids: Vec<u64> = {
        let mut ids: Vec<u64> = plans.iter().map(|p| p.plan_id).collect();
        ids.sort_unstable();
        ids
    };
    let base = |name: String, percent: i64, plans: Vec<u64>| Coupon {
        name,
        amount: Decimal::ZERO,
        percent: Decimal::from(percent),
        min_amount: Decimal::ZERO,
        max_amount: Decimal::ZERO,
        uses: 0,
        used: 0,
        plans,
        payment_gateways: None,
        revenue: None,
        newcomers: false,
        singleuse: false,
        invitee_only: false,
        auto_apply: false,
        enabled: true,
    };
    let mut coupons: Vec<Coupon> = Vec::with_capacity(count);
    for i in 0..count {
        let coupon = match i {
            0 => base("discountcode".to_string(), 10, all_ids[..1].to_vec()),
            1 => Coupon {
                payment_gateways: Some(vec!["paypal".to_string()]),
                revenue: Some(CouponRevenue {
                    direction: "above".to_string(),
                    amount: Decimal::from(10),
                    currency: Currency::Usd,
                }),
                singleuse: true,
                invitee_only: true,
                auto_apply: true,
                ..base(
                    "HJTPS3".to_string(),
                    11,
                    all_ids[..all_ids.len().min(3)].to_vec(),
                )
            },
            2 => base(SQL_COUPON_NAME.to_string(), 20, all_ids.clone()),
            3 => Coupon {
                amount: Decimal::ONE,
                percent: Decimal::ZERO,
                min_amount: Decimal::from(2),
                ..base(
                    "FLAT1".to_string(),
                    0,
                    all_ids
                        .iter()
                        .copied()
                        .filter(|id| {
                            plans
                                .iter()
                                .any(|p| p.plan_id == *id && p.price > Decimal::TWO)
                        })
                        .collect(),
                )
            },
            _ => {
                let name = loop {
                    let candidate: String = (0..6)
                        .map(|_| {
                            if rng.bool() {
                                rng.uppercase()
                            } else {
                                rng.digit(10)
                            }
                        })
                        .collect();
                    if coupons.iter().all(|c| c.name != candidate) {
                        break candidate;
                    }
                };
                let percents = [5, 15, 25, 33, 50];
                let chosen: Vec<u64> = all_ids.iter().copied().filter(|_| rng.bool()).collect();
                Coupon {
                    uses: if i % 3 == 0 { 100 } else { 0 },
                    newcomers: i % 2 == 0,
                    enabled: i % 5 != 4,
                    ..base(name, percents[rng.usize(..percents.len())], chosen)
                }
            }
        };
        coupons.push(coupon);
    }
    coupons
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

/// A new order dated `date`: a member buying one of their plans (or an anonymous buyer),
/// through a gateway, sometimes with a coupon. Advances `next_order_serial` and coupon use.
pub fn new_order(data: &mut SimData, rng: &mut Rng, date: i64, now: i64) -> Order {
    let (member_id, plan_index) = match data.memberships.len() {
        n if n > 0 && rng.f64() >= 0.04 => {
            let m = data.memberships[rng.usize(..n)];
            let index = data
                .plans
                .iter()
                .position(|p| p.plan_id == m.plan_id)
                .unwrap_or(0);
            (m.member_id, index)
        }
        _ => (0, rng.usize(..data.plans.len().max(1))),
    };
    let member_name = if member_id == 0 {
        NAMES[rng.usize(..NAMES.len())]
    } else {
        name_for(member_id)
    };
    let age = now - date;
    let gateway = pick_gateway(rng, age);
    let order_status = pick_status(rng, age);
    let serial = data.next_order_serial;
    data.next_order_serial += 1;
    let order_key = order_key(rng, gateway, serial, date, member_id);
    let (plan_id, project_id, mut amount, currency) = match data.plans.get(plan_index) {
        Some(p) => (p.plan_id, p.project_id, p.price, p.currency),
        None => (0, 0, Decimal::ZERO, Currency::Eur),
    };
    if rng.f64() < 0.15 {
        let usable: Vec<usize> = (0..data.coupons.len())
            .filter(|&c| coupon_applies(&data.coupons[c], plan_id, gateway, amount))
            .collect();
        if !usable.is_empty() {
            let c = usable[rng.usize(..usable.len())];
            amount = discounted(amount, &data.coupons[c], currency);
            data.coupons[c].used += 1;
        }
    }
    Order {
        order_key,
        order_type: 1,
        order_date: date,
        order_status,
        member_id,
        member_name,
        plan_id,
        project_id,
        gateway,
        amount,
        currency,
    }
}

/// A member's display name, fixed by their id.
pub fn name_for(member_id: u64) -> &'static str {
    let mut x = member_id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    NAMES[(x % NAMES.len() as u64) as usize]
}

fn coupon_applies(coupon: &Coupon, plan_id: u64, gateway: &Gateway, price: Decimal) -> bool {
    coupon.enabled
        && coupon.plans.contains(&plan_id)
        && price > coupon.min_amount
        && coupon
            .payment_gateways
            .as_ref()
            .is_none_or(|codes| codes.iter().any(|c| c == gateway.code))
}

/// The price after a coupon, rounded half away from zero to the currency's minor unit.
pub fn discounted(price: Decimal, coupon: &Coupon, currency: Currency) -> Decimal {
    let hundred = Decimal::ONE_HUNDRED;
    let after_percent = hundred
        .checked_sub(coupon.percent)
        .and_then(|keep| price.checked_mul(keep))
        .and_then(|v| v.checked_div(hundred))
        .unwrap_or(price);
    let after_amount = after_percent
        .checked_sub(coupon.amount)
        .unwrap_or(after_percent)
        .max(Decimal::ZERO);
    after_amount.round_dp_with_strategy(
        currency.minor_units(),
        RoundingStrategy::MidpointAwayFromZero,
    )
}

fn pick_gateway(rng: &mut Rng, age: i64) -> &'static Gateway {
    const WEIGHTS: [(&str, u32); 7] = [
        ("stripe", 38),
        ("paypal", 22),
        ("telegram", 15),
        ("cryptocom", 10),
        ("cryptonokyc", 6),
        ("yookassa", 6),
        ("paystack", 3),
    ];
    let code = if age >= HISTORICAL_GATEWAY_AGE && rng.f64() < 0.12 {
        "authorizenet"
    } else {
        let total: u32 = WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut roll = rng.u32(..total);
        let mut picked = WEIGHTS[0].0;
        for (code, weight) in WEIGHTS {
            if roll < weight {
                picked = code;
                break;
            }
            roll -= weight;
        }
        picked
    };
    gateway(code).unwrap_or(&super::model::GATEWAYS[0])
}

fn pick_status(rng: &mut Rng, age: i64) -> OrderStatus {
    let roll = rng.f64();
    if age < 2 * DAY {
        return if roll < 0.3 {
            OrderStatus::Pending
        } else {
            OrderStatus::Completed
        };
    }
    if roll < 0.86 {
        OrderStatus::Completed
    } else if roll < 0.92 {
        OrderStatus::Pending
    } else if roll < 0.96 {
        OrderStatus::Refunded
    } else {
        OrderStatus::Canceled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
