//! Each stream's table: its staged columns (matching `sql/001_schema.sql`) and how one
//! typed row is written into them.

use serde_json::Value;

use crate::api::Method;
use crate::api::models::{Coupon, Membership, Order, PaymentMethod, Plan, Project};
use crate::api::row::RowError;
use crate::load::batch::BatchWriter;
use crate::load::table::{ColumnType::*, TableSpec, col};

use super::StreamName;

/// A row type a stream stages.
pub trait StagedRow: Sized + Send + 'static {
    /// The table this row goes to.
    const TABLE: &'static TableSpec;
    /// Reads one row of the API's answer.
    fn from_json(row: Value) -> Result<Self, RowError>;
    /// Writes the row's columns in `TABLE.columns` order (the caller ends the row).
    fn write(&self, bot_id: i64, w: &mut BatchWriter);
}

/// How a full-scan stream is fetched.
#[derive(Debug, Clone, Copy)]
pub struct FetchSpec {
    pub stream: StreamName,
    pub method: fn() -> Method,
    /// `None`: the endpoint is not paged (one request).
    pub page_limit: Option<u32>,
    /// The row key as text, for the pager's already-seen check.
    pub key_of: fn(&Value) -> Option<String>,
}

fn text_of(row: &Value, field: &str) -> Option<String> {
    match row.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn key_order(row: &Value) -> Option<String> {
    text_of(row, "order_key")
}
fn key_membership(row: &Value) -> Option<String> {
    Some(format!(
        "{}/{}/{}",
        text_of(row, "member_id")?,
        text_of(row, "plan_id")?,
        text_of(row, "project_id")?
    ))
}
fn key_plan(row: &Value) -> Option<String> {
    text_of(row, "plan_id")
}
fn key_project(row: &Value) -> Option<String> {
    text_of(row, "project_id")
}
fn key_name(row: &Value) -> Option<String> {
    text_of(row, "name")
}

pub const ORDERS_FETCH: FetchSpec = FetchSpec {
    stream: StreamName::Orders,
    method: || Method::Orders,
    page_limit: Some(100),
    key_of: key_order,
};
pub const MEMBERS_FETCH: FetchSpec = FetchSpec {
    stream: StreamName::Members,
    method: || Method::Members,
    page_limit: Some(1000),
    key_of: key_membership,
};
pub const PLANS_FETCH: FetchSpec = FetchSpec {
    stream: StreamName::Plans,
    method: || Method::Plans,
    page_limit: Some(100),
    key_of: key_plan,
};
pub const PROJECTS_FETCH: FetchSpec = FetchSpec {
    stream: StreamName::Projects,
    method: || Method::Projects,
    page_limit: Some(100),
    key_of: key_project,
};
/// `/coupons` documents no paging; it is paged anyway (an API that honours limit/offset
/// is read whole, one that ignores them is stopped by the pager's already-seen rule).
pub const COUPONS_FETCH: FetchSpec = FetchSpec {
    stream: StreamName::Coupons,
    method: || Method::Coupons,
    page_limit: Some(100),
    key_of: key_name,
};
pub const PAYMENT_METHODS_FETCH: FetchSpec = FetchSpec {
    stream: StreamName::PaymentMethods,
    method: || Method::PaymentMethods,
    page_limit: None,
    key_of: key_name,
};

pub static ORDERS: TableSpec = TableSpec {
    name: "orders",
    keys: &["order_key"],
    columns: &[
        col("bot_id", Int),
        col("order_key", Text),
        col("order_type", Int),
        col("order_date", Timestamp),
        col("order_status", Text),
        col("member_id", Int),
        col("member_name", Text),
        col("member_email", Text),
        col("plan_id", Int),
        col("plan_name", Text),
        col("project_id", Int),
        col("payment_gateway", Text),
        col("amount", Money),
        col("currency", Text),
        col("_extra", Text),
    ],
    derived: &[],
    month_partition: Some("order_date"),
    kept_when_null: &["member_email"],
};

impl StagedRow for Order {
    const TABLE: &'static TableSpec = &ORDERS;
    fn from_json(row: Value) -> Result<Self, RowError> {
        Order::from_json(row)
    }
    fn write(&self, bot_id: i64, w: &mut BatchWriter) {
        w.int(Some(bot_id));
        w.text(Some(&self.order_key));
        w.int(self.order_type);
        w.timestamp(Some(self.order_date));
        w.text(Some(&self.order_status));
        w.int(self.member_id);
        w.text(self.member_name.as_deref());
        w.text(self.member_email.as_deref());
        w.int(self.plan_id);
        w.text(self.plan_name.as_deref());
        w.int(self.project_id);
        w.text(self.payment_gateway.as_deref());
        w.money(self.amount);
        w.text(self.currency.as_deref());
        w.text(self.extra.as_deref());
    }
}

pub static MEMBERS: TableSpec = TableSpec {
    name: "members",
    keys: &["member_id", "plan_id", "project_id"],
    columns: &[
        col("bot_id", Int),
        col("member_id", Int),
        col("plan_id", Int),
        col("project_id", Int),
        col("membership_start", Timestamp),
        col("membership_end", Timestamp),
        col("_extra", Text),
    ],
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
};

impl StagedRow for Membership {
    const TABLE: &'static TableSpec = &MEMBERS;
    fn from_json(row: Value) -> Result<Self, RowError> {
        Membership::from_json(row)
    }
    fn write(&self, bot_id: i64, w: &mut BatchWriter) {
        w.int(Some(bot_id));
        w.int(Some(self.member_id));
        w.int(Some(self.plan_id));
        w.int(Some(self.project_id));
        w.timestamp(self.start);
        w.timestamp(self.end);
        w.text(self.extra.as_deref());
    }
}

pub static PLANS: TableSpec = TableSpec {
    name: "plans",
    keys: &["plan_id"],
    columns: &[
        col("bot_id", Int),
        col("plan_id", Int),
        col("plan_name", Text),
        col("duration", Text),
        col("price", Money),
        col("currency", Text),
        col("recurring", Bool),
        col("newcomers", Int),
        col("singleuse", Int),
        col("token_only", Bool),
        col("credit_only", Bool),
        col("invitee_only", Int),
        col("is_hidden", Bool),
        col("max_customers", Int),
        col("sort_order", Int),
        col("enabled", Bool),
        col("_extra", Text),
    ],
    derived: &[("duration_interval", "TRY_CAST(s.duration AS INTERVAL)")],
    month_partition: None,
    kept_when_null: &[],
};

impl StagedRow for Plan {
    const TABLE: &'static TableSpec = &PLANS;
    fn from_json(row: Value) -> Result<Self, RowError> {
        Plan::from_json(row)
    }
    fn write(&self, bot_id: i64, w: &mut BatchWriter) {
        w.int(Some(bot_id));
        w.int(Some(self.plan_id));
        w.text(self.plan_name.as_deref());
        w.text(self.duration.as_deref());
        w.money(self.price);
        w.text(self.currency.as_deref());
        w.bool(self.recurring);
        w.int(self.newcomers);
        w.int(self.singleuse);
        w.bool(self.token_only);
        w.bool(self.credit_only);
        w.int(self.invitee_only);
        w.bool(self.is_hidden);
        w.int(self.max_customers);
        w.int(self.sort_order);
        w.bool(self.enabled);
        w.text(self.extra.as_deref());
    }
}

pub static PROJECTS: TableSpec = TableSpec {
    name: "projects",
    keys: &["project_id"],
    columns: &[
        col("bot_id", Int),
        col("project_id", Int),
        col("project_name", Text),
        col("sort_order", Int),
        col("is_hidden", Bool),
        col("_extra", Text),
    ],
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
};

impl StagedRow for Project {
    const TABLE: &'static TableSpec = &PROJECTS;
    fn from_json(row: Value) -> Result<Self, RowError> {
        Project::from_json(row)
    }
    fn write(&self, bot_id: i64, w: &mut BatchWriter) {
        w.int(Some(bot_id));
        w.int(Some(self.project_id));
        w.text(self.project_name.as_deref());
        w.int(self.sort_order);
        w.bool(self.is_hidden);
        w.text(self.extra.as_deref());
    }
}

pub static COUPONS: TableSpec = TableSpec {
    name: "coupons",
    keys: &["name"],
    columns: &[
        col("bot_id", Int),
        col("name", Text),
        col("amount", Money),
        col("percent", Money),
        col("min_amount", Money),
        col("max_amount", Money),
        col("uses", Int),
        col("used", Int),
        col("plans", IntList),
        col("payment_gateways", TextList),
        col("revenue_direction", Text),
        col("revenue_amount", Money),
        col("revenue_currency", Text),
        col("newcomers", Bool),
        col("singleuse", Bool),
        col("invitee_only", Bool),
        col("auto_apply", Bool),
        col("enabled", Bool),
        col("_extra", Text),
    ],
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
};

impl StagedRow for Coupon {
    const TABLE: &'static TableSpec = &COUPONS;
    fn from_json(row: Value) -> Result<Self, RowError> {
        Coupon::from_json(row)
    }
    fn write(&self, bot_id: i64, w: &mut BatchWriter) {
        w.int(Some(bot_id));
        w.text(Some(&self.name));
        w.money(self.amount);
        w.money(self.percent);
        w.money(self.min_amount);
        w.money(self.max_amount);
        w.int(self.uses);
        w.int(self.used);
        w.int_list(self.plans.as_deref());
        w.text_list(self.payment_gateways.as_deref());
        w.text(self.revenue_direction.as_deref());
        w.money(self.revenue_amount);
        w.text(self.revenue_currency.as_deref());
        w.bool(self.newcomers);
        w.bool(self.singleuse);
        w.bool(self.invitee_only);
        w.bool(self.auto_apply);
        w.bool(self.enabled);
        w.text(self.extra.as_deref());
    }
}

pub static PAYMENT_METHODS: TableSpec = TableSpec {
    name: "payment_methods",
    keys: &["name"],
    columns: &[
        col("bot_id", Int),
        col("name", Text),
        col("display_name", Text),
        col("supports_recurring", Bool),
        col("requires_email", Bool),
        col("tokens", Text),
        col("_extra", Text),
    ],
    derived: &[],
    month_partition: None,
    kept_when_null: &[],
};

impl StagedRow for PaymentMethod {
    const TABLE: &'static TableSpec = &PAYMENT_METHODS;
    fn from_json(row: Value) -> Result<Self, RowError> {
        PaymentMethod::from_json(row)
    }
    fn write(&self, bot_id: i64, w: &mut BatchWriter) {
        w.int(Some(bot_id));
        w.text(Some(&self.name));
        w.text(self.display_name.as_deref());
        w.bool(self.supports_recurring);
        w.bool(self.requires_email);
        w.text(self.tokens.as_deref());
        w.text(self.extra.as_deref());
    }
}

/// Every synced table's spec, for checks and for the Parquet mirror.
pub static ALL_TABLES: [&TableSpec; 6] = [
    &ORDERS,
    &MEMBERS,
    &PLANS,
    &PROJECTS,
    &COUPONS,
    &PAYMENT_METHODS,
];
