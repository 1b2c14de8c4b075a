//! The simulated bot's data, as plain values: what the endpoints serve and what tests
//! snapshot through `SimHandle::data` to compute expected results themselves.

use std::cmp::Ordering;
use std::collections::VecDeque;

use rust_decimal::Decimal;

use crate::currency::Currency;

/// `order_status` of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    Completed,
    Pending,
    Refunded,
    Canceled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Completed,
        OrderStatus::Pending,
        OrderStatus::Refunded,
        OrderStatus::Canceled,
    ];

    /// As the API writes it: `COMPLETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Pending => "PENDING",
            OrderStatus::Refunded => "REFUNDED",
            OrderStatus::Canceled => "CANCELED",
        }
    }

    /// Case-insensitive.
    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// A payment gateway: `code` is what reports group by, `display_name` what `/orders` shows.
#[derive(Debug, PartialEq, Eq)]
pub struct Gateway {
    pub code: &'static str,
    pub display_name: &'static str,
    /// Listed by `/paymentMethods`. The historical gateway is not.
    pub installed: bool,
    pub supports_recurring: bool,
    pub requires_email: bool,
    /// `(token, display_name)` pairs; only `cryptonokyc` has some.
    pub tokens: &'static [(&'static str, &'static str)],
}

/// Every gateway the simulator knows, installed ones first in `/paymentMethods` order,
/// then `authorizenet`, which appears on old orders only.
pub static GATEWAYS: [Gateway; 10] = [
    Gateway {
        code: "cryptocom",
        display_name: "Crypto (Crypto.Com)",
        installed: true,
        supports_recurring: false,
        requires_email: false,
        tokens: &[],
    },
    Gateway {
        code: "cryptonokyc",
        display_name: "Crypto (No KYC)",
        installed: true,
        supports_recurring: false,
        requires_email: false,
        tokens: &[
            ("BTC.LN", "Bitcoin (Lightning)"),
            ("BTC.BTC", "Bitcoin"),
            ("ETH.BASE", "Ethereum (BASE)"),
            ("LTC.LTC", "Litecoin"),
            ("USDT.MATIC", "USDT (Polygon)"),
        ],
    },
    Gateway {
        code: "paypal",
        display_name: "PayPal",
        installed: true,
        supports_recurring: true,
        requires_email: false,
        tokens: &[],
    },
    Gateway {
        code: "paystack",
        display_name: "Paystack",
        installed: true,
        supports_recurring: false,
        requires_email: true,
        tokens: &[],
    },
    Gateway {
        code: "stripe",
        display_name: "Credit / Debit card (Stripe)",
        installed: true,
        supports_recurring: true,
        requires_email: false,
        tokens: &[],
    },
    Gateway {
        code: "telegram",
        display_name: "Telegram Pay",
        installed: true,
        supports_recurring: false,
        requires_email: false,
        tokens: &[],
    },
    Gateway {
        code: "telegram_stars",
        display_name: "Telegram Stars",
        installed: true,
        supports_recurring: false,
        requires_email: false,
        tokens: &[],
    },
    Gateway {
        code: "yookassa",
        display_name: "YooKassa",
        installed: true,
        supports_recurring: false,
        requires_email: true,
        tokens: &[],
    },
    Gateway {
        code: "reepay",
        display_name: "Billwerk+",
        installed: true,
        supports_recurring: true,
        requires_email: true,
        tokens: &[],
    },
    Gateway {
        code: "authorizenet",
        display_name: "AuthorizeNet",
        installed: false,
        supports_recurring: true,
        requires_email: false,
        tokens: &[],
    },
];

/// The gateway with this code.
pub fn gateway(code: &str) -> Option<&'static Gateway> {
    GATEWAYS.iter().find(|g| g.code == code)
}

/// One order, as `/orders` lists it (amount and currency native: the plan's).
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub order_key: String,
    pub order_type: u32,
    /// UNIX seconds.
    pub order_date: i64,
    pub order_status: OrderStatus,
    /// 0 for an order without a known member.
    pub member_id: u64,
    pub member_name: &'static str,
    pub plan_id: u64,
    pub project_id: u64,
    pub gateway: &'static Gateway,
    /// Native amount: the plan price, or less after a coupon. Exact.
    pub amount: Decimal,
    /// The currency paid in: usually the plan's, for some orders another one.
    pub currency: Currency,
}

impl Order {
    /// The `/orders` sort: `order_date` descending, ties by `order_key` ascending.
    pub fn api_order(a: &Order, b: &Order) -> Ordering {
        b.order_date
            .cmp(&a.order_date)
            .then_with(|| a.order_key.cmp(&b.order_key))
    }

    /// A sale, in the reports' sense.
    pub fn is_sale(&self) -> bool {
        self.order_status == OrderStatus::Completed
    }

    /// The e-mail `/orders/{order_key}` shows, derived from the member's name.
    pub fn member_email(&self) -> String {
        email_for(self.member_name)
    }
}

/// `john.doe@example.com` for `John Doe` (non-ASCII letters dropped).
pub fn email_for(name: &str) -> String {
    let mut local = String::with_capacity(name.len());
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            local.push(ch.to_ascii_lowercase());
        } else if ch == ' ' && !local.ends_with('.') && !local.is_empty() {
            local.push('.');
        }
    }
    let local = local.trim_end_matches('.');
    if local.is_empty() {
        "member@example.com".to_string()
    } else {
        format!("{local}@example.com")
    }
}

/// One membership: a member's access to a plan (keyed by the triple).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Membership {
    pub member_id: u64,
    pub plan_id: u64,
    pub project_id: u64,
    pub start: i64,
    pub end: i64,
}

/// A plan's `options` object. `Default`: open to everyone, no limits, not hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    pub recurring: bool,
    pub newcomers: u8,
    pub singleuse: u8,
    pub token_only: bool,
    pub credit_only: bool,
    pub invitee_only: u8,
    pub is_hidden: bool,
}

/// A plan. `project_id` is not part of the `/plans` row (the docs do not show it) but
/// drives the `project_id` filter, orders and memberships.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub plan_id: u64,
    pub plan_name: String,
    pub duration: String,
    pub duration_secs: i64,
    pub price: Decimal,
    pub currency: Currency,
    pub project_id: u64,
    pub options: PlanOptions,
    pub max_customers: u32,
    pub sort_order: i64,
    pub enabled: bool,
}

/// A project. `sort_order: None` leaves the field out of `options`, as the docs show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub project_id: u64,
    pub project_name: String,
    pub sort_order: Option<i64>,
    pub is_hidden: bool,
}

/// A coupon's optional `revenue` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct CouponRevenue {
    pub direction: String,
    pub amount: Decimal,
    pub currency: Currency,
}

/// A coupon, shaped as `/coupons` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Coupon {
    pub name: String,
    pub amount: Decimal,
    pub percent: Decimal,
    pub min_amount: Decimal,
    pub max_amount: Decimal,
    pub uses: u32,
    pub used: u32,
    pub plans: Vec<u64>,
    pub payment_gateways: Option<Vec<String>>,
    pub revenue: Option<CouponRevenue>,
    pub newcomers: bool,
    pub singleuse: bool,
    pub invitee_only: bool,
    pub auto_apply: bool,
    pub enabled: bool,
}

/// Everything the simulated bot holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SimData {
    pub bot_id: u64,
    pub preferred_currency: Option<Currency>,
    /// Newest first, in `/orders` order (`Order::api_order`): offset `i` is `orders[i]`.
    pub orders: VecDeque<Order>,
    /// In `/members` order (no particular sort).
    pub memberships: Vec<Membership>,
    /// In `/plans` order: `sort_order` descending (all distinct).
    pub plans: Vec<Plan>,
    /// In `/projects` order: `project_id` ascending.
    pub projects: Vec<Project>,
    pub coupons: Vec<Coupon>,
    /// Users who never held a membership (counted as `leads`).
    pub leads: Vec<u64>,
    /// Serial number the next generated order key embeds (keys stay unique).
    pub next_order_serial: u64,
}

impl SimData {
    pub fn plan(&self, plan_id: u64) -> Option<&Plan> {
        self.plans.iter().find(|p| p.plan_id == plan_id)
    }

    pub fn order(&self, order_key: &str) -> Option<&Order> {
        self.orders.iter().find(|o| o.order_key == order_key)
    }

    /// The currency a report uses: the requested one, else the bot's preferred, else EUR.
    pub(crate) fn report_currency(&self, requested: Option<Currency>) -> Currency {
        requested
            .or(self.preferred_currency)
            .unwrap_or(Currency::Eur)
    }

    /// Inserts an order at its place in `/orders` order (cheap for recent orders).
    pub(crate) fn insert_order(&mut self, order: Order) {
        let at = self
            .orders
            .partition_point(|o| Order::api_order(o, &order) == Ordering::Less);
        self.orders.insert(at, order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_come_from_names() {
        assert_eq!(email_for("John Doe"), "john.doe@example.com");
        assert_eq!(email_for("Zoë O'Brien"), "zo.obrien@example.com");
        assert_eq!(email_for("Tom"), "tom@example.com");
        assert_eq!(email_for("李雷"), "member@example.com");
    }

    #[test]
    fn statuses_parse_case_insensitively() {
        assert_eq!(
            OrderStatus::parse("completed"),
            Some(OrderStatus::Completed)
        );
        assert_eq!(OrderStatus::parse("Canceled"), Some(OrderStatus::Canceled));
        assert_eq!(OrderStatus::parse("paid"), None);
    }

    #[test]
    fn only_authorizenet_is_historical() {
        let historical: Vec<&str> = GATEWAYS
            .iter()
            .filter(|g| !g.installed)
            .map(|g| g.code)
            .collect();
        assert_eq!(historical, ["authorizenet"]);
    }
}
