//! The generator's orders: a member (or an anonymous buyer) buying a plan through a
//! gateway, sometimes with a coupon; the share paid in another currency than the plan's.

use fastrand::Rng;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::currency::Currency;

use super::SimOptions;
use super::data::{DAY, NAMES, name_for};
use super::keys::order_key;
use super::model::{Coupon, Gateway, Order, OrderStatus, SimData, gateway};
use super::rates::convert;

/// Orders older than this may use the historical gateway (`authorizenet`).
const HISTORICAL_GATEWAY_AGE: i64 = 540 * DAY;

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
pub(super) fn pay_some_in_other_currencies(orders: &mut [Order], opts: &SimOptions) {
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

/// A new order dated `date`: a member buying one of their plans (or an anonymous buyer),
/// through a gateway, sometimes with a coupon. Advances `next_order_serial` and coupon use.
pub(super) fn new_order(data: &mut SimData, rng: &mut Rng, date: i64, now: i64) -> Order {
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
pub(super) fn discounted(price: Decimal, coupon: &Coupon, currency: Currency) -> Decimal {
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
