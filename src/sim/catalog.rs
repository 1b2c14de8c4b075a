//! The simulator's catalogue: projects, plans (their names, durations, currencies and
//! prices) and coupons, from the data generator's seed.

use fastrand::Rng;
use rust_decimal::Decimal;

use crate::currency::Currency;

use super::data::DAY;
use super::model::{Coupon, CouponRevenue, Plan, PlanOptions, Project};

/// The name a plan and a coupon carry to test the loader's quoting.
pub const SQL_PLAN_NAME: &str = "O'Brien \"VIP\"; DROP TABLE plans;--";
pub const SQL_COUPON_NAME: &str = "O'Brien \"VIP\"; DROP TABLE orders;--";

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

pub(super) fn make_projects(rng: &mut Rng, count: usize) -> Vec<Project> {
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

pub(super) fn make_plans(rng: &mut Rng, count: usize, projects: &[Project]) -> Vec<Plan> {
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

pub(super) fn make_coupons(rng: &mut Rng, count: usize, plans: &[Plan]) -> Vec<Coupon> {
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
