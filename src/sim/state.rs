//! The simulator's shared state and the handle tests use to read and mutate it between
//! (or during) runs: data, fault and quirk settings, response hook, request counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use fastrand::Rng;
use serde_json::Value;

use rust_decimal::Decimal;

use crate::currency::Currency;

use super::faults::RateLimiter;
use super::keys::order_key;
use super::model::{GATEWAYS, Order, OrderStatus, Plan, PlanOptions, SimData};
use super::orders::new_order;
use super::{FaultOptions, Quirks};

/// What a response hook learns about the request it may rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// Sequence number of the request (1, 2, ...), also its `request_id`.
    pub seq: u64,
    /// `GET`, `POST`, ...
    pub http_method: String,
    /// The canonical method path, lower case: `orders`, `orders/key`, `users/count`, ...
    pub method_path: String,
    /// The path as requested after the key (`Orders`, `getSubscribers`, ...).
    pub raw_method: String,
    /// Query parameters, names lower-cased, in request order.
    pub query: Vec<(String, String)>,
    /// Came in through the unversioned legacy URL.
    pub legacy: bool,
    /// The HTTP status the simulator is about to send.
    pub status: u16,
}

impl RequestInfo {
    /// The last value of query parameter `name` (lower case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Rewrites a JSON body (the whole envelope) before it is sent.
pub type ResponseHook = Arc<dyn Fn(&RequestInfo, &mut Value) + Send + Sync>;

/// Faults the simulator injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub rate_limited: u64,
    /// 429s from the `max_rps` cap.
    pub rps_limited: u64,
    pub server_errors: u64,
    pub ok_false: u64,
    pub truncated: u64,
    pub dropped: u64,
}

impl FaultCounts {
    pub fn total(&self) -> u64 {
        self.rate_limited
            + self.rps_limited
            + self.server_errors
            + self.ok_false
            + self.truncated
            + self.dropped
    }
}

/// Requests the simulator received on API routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub total: u64,
    /// Per canonical method path (`orders`, `orders/key`, `members`, ...); legacy aliases
    /// count under their v1 path. Unknown methods count as `unknown`.
    pub by_path: BTreeMap<String, u64>,
    /// How many came in through legacy URLs.
    pub legacy: u64,
    pub faults: FaultCounts,
    /// The API's own serving time: each request's handler time, from its arrival to its
    /// answer ready to send, less the configured latency it slept, summed over the
    /// requests (what the server worked, not what the client waited).
    pub serving: std::time::Duration,
}

impl RequestCounts {
    /// Requests for one method path (0 if none).
    pub fn get(&self, method_path: &str) -> u64 {
        self.by_path.get(method_path).copied().unwrap_or(0)
    }
}

/// Settings that change while the server runs.
pub(crate) struct Control {
    pub faults: FaultOptions,
    pub quirks: Quirks,
    pub hook: Option<ResponseHook>,
    pub drift: usize,
    pub fault_rng: Rng,
    pub limiter: RateLimiter,
}

pub(crate) struct SimState {
    pub bot_id: u64,
    pub api_key: String,
    data: RwLock<SimData>,
    control: Mutex<Control>,
    counts: Mutex<RequestCounts>,
    mutation_rng: Mutex<Rng>,
    seq: AtomicU64,
    /// 0, or the HTTP status (401/403) every request with this bot's key gets: a revoked key.
    key_refused_with: AtomicU16,
    /// This bot's API is down: every request for it is answered HTTP 503.
    down: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Current UNIX time in seconds, from the process clock (pinned in tests).
pub(crate) fn unix_now() -> i64 {
    crate::clock::now_secs()
}

impl SimState {
    pub(crate) fn new(
        data: SimData,
        api_key: String,
        seed: u64,
        faults: FaultOptions,
        quirks: Quirks,
    ) -> Self {
        SimState {
            bot_id: data.bot_id,
            api_key,
            data: RwLock::new(data),
            control: Mutex::new(Control {
                faults,
                quirks,
                hook: None,
                drift: 0,
                fault_rng: Rng::with_seed(seed ^ 0x5EED_FA17),
                limiter: RateLimiter::default(),
            }),
            counts: Mutex::new(RequestCounts::default()),
            mutation_rng: Mutex::new(Rng::with_seed(seed ^ 0x0DD5_EED5)),
            seq: AtomicU64::new(0),
            key_refused_with: AtomicU16::new(0),
            down: AtomicBool::new(false),
        }
    }

    /// The status a revoked key gets (401 or 403), if the key is revoked.
    pub(crate) fn key_refused_with(&self) -> Option<u16> {
        match self.key_refused_with.load(Ordering::Relaxed) {
            0 => None,
            status => Some(status),
        }
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, SimData> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, SimData> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn control(&self) -> MutexGuard<'_, Control> {
        lock(&self.control)
    }

    pub(crate) fn counts(&self) -> MutexGuard<'_, RequestCounts> {
        lock(&self.counts)
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Inserts `n` new orders dated now; returns their keys.
    pub(crate) fn add_orders(&self, n: usize) -> Vec<String> {
        let now = unix_now();
        let mut rng = lock(&self.mutation_rng);
        let mut data = self.write();
        (0..n)
            .map(|_| {
                let order = new_order(&mut data, &mut rng, now, now);
                let key = order.order_key.clone();
                data.insert_order(order);
                key
            })
            .collect()
    }

    /// Moves up to `n` randomly chosen orders from one status to another.
    pub(crate) fn change_status(
        &self,
        n: usize,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Vec<String> {
        let mut rng = lock(&self.mutation_rng);
        let mut data = self.write();
        let mut eligible: Vec<usize> = data
            .orders
            .iter()
            .enumerate()
            .filter(|(_, o)| o.order_status == from)
            .map(|(i, _)| i)
            .collect();
        rng.shuffle(&mut eligible);
        eligible.truncate(n);
        eligible
            .into_iter()
            .filter_map(|i| {
                let order = data.orders.get_mut(i)?;
                order.order_status = to;
                Some(order.order_key.clone())
            })
            .collect()
    }

    /// Removes up to `n` randomly chosen memberships; returns their keys.
    pub(crate) fn remove_memberships(&self, n: usize) -> Vec<(u64, u64, u64)> {
        let mut rng = lock(&self.mutation_rng);
        let mut data = self.write();
        let len = data.memberships.len();
        let mut doomed = vec![false; len];
        let mut indices: Vec<usize> = (0..len).collect();
        rng.shuffle(&mut indices);
        let mut removed = Vec::with_capacity(n.min(len));
        for &i in indices.iter().take(n) {
            doomed[i] = true;
            let m = data.memberships[i];
            removed.push((m.member_id, m.plan_id, m.project_id));
        }
        let mut at = 0;
        data.memberships.retain(|_| {
            let keep = !doomed[at];
            at += 1;
            keep
        });
        removed
    }

    /// Applies `change` to the order with this key; false if there is none.
    pub(crate) fn edit_order(&self, order_key: &str, change: impl FnOnce(&mut Order)) -> bool {
        let mut data = self.write();
        match data.orders.iter_mut().find(|o| o.order_key == order_key) {
            Some(order) => {
                change(order);
                true
            }
            None => false,
        }
    }

    /// Removes the orders with these keys; returns how many there were.
    pub(crate) fn remove_orders(&self, keys: &[String]) -> usize {
        let mut data = self.write();
        let before = data.orders.len();
        data.orders.retain(|o| !keys.contains(&o.order_key));
        before - data.orders.len()
    }

    /// Adds a plan after the others in `/plans` order; returns its id.
    pub(crate) fn add_plan(&self, name: &str, price: Decimal, currency: Currency) -> u64 {
        let mut data = self.write();
        let plan_id = data.plans.iter().map(|p| p.plan_id).max().unwrap_or(0) + 1;
        let sort_order = data.plans.iter().map(|p| p.sort_order).min().unwrap_or(0) - 1;
        let project_id = data.projects.first().map_or(0, |p| p.project_id);
        data.plans.push(Plan {
            plan_id,
            plan_name: name.to_string(),
            duration: "1 month".to_string(),
            duration_secs: 30 * 86_400,
            price,
            currency,
            project_id,
            options: PlanOptions::default(),
            max_customers: 0,
            sort_order,
            enabled: true,
        });
        plan_id
    }

    /// Adds one COMPLETED order (a sale) of `amount` in `currency` on `plan_id`, dated
    /// `date`, paid through the first installed gateway; returns its key.
    pub(crate) fn add_sale(
        &self,
        plan_id: u64,
        amount: Decimal,
        currency: Currency,
        date: i64,
    ) -> String {
        let mut rng = lock(&self.mutation_rng);
        let mut data = self.write();
        let gateway = GATEWAYS
            .iter()
            .find(|g| g.installed)
            .unwrap_or(&GATEWAYS[0]);
        let serial = data.next_order_serial;
        data.next_order_serial += 1;
        let project_id = data.plan(plan_id).map_or(0, |p| p.project_id);
        let order = Order {
            order_key: order_key(&mut rng, gateway, serial, date, 0),
            order_type: 1,
            order_date: date,
            order_status: OrderStatus::Completed,
            member_id: 0,
            member_name: "Tom",
            plan_id,
            project_id,
            gateway,
            amount,
            currency,
        };
        let key = order.order_key.clone();
        data.insert_order(order);
        key
    }

    pub(crate) fn rename_plan(&self, plan_id: u64, name: &str) {
        let mut data = self.write();
        if let Some(plan) = data.plans.iter_mut().find(|p| p.plan_id == plan_id) {
            plan.plan_name = name.to_string();
        }
    }

    /// Adds the configured drift (new newest orders) before an `/orders` page.
    pub(crate) fn apply_drift(&self) {
        let drift = self.control().drift;
        if drift > 0 {
            self.add_orders(drift);
        }
    }
}

/// An in-process handle on a running simulator. Cheap to clone.
#[derive(Clone)]
pub struct SimHandle {
    pub(crate) state: Arc<SimState>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("bot_id", &self.state.bot_id)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// The bot this handle serves.
    pub fn bot_id(&self) -> u64 {
        self.state.bot_id
    }

    /// The key this bot's URLs must carry.
    pub fn api_key(&self) -> &str {
        &self.state.api_key
    }

    /// Revokes this bot's key: from now on every request for the bot is refused with
    /// `status`, HTTP 401 (`Unauthorized`) or 403 (`Forbidden`; any other value is taken
    /// as 401), as docs/data-contract.md §1.4 lists a refused key. Other bots are not affected.
    pub fn revoke_key(&self, status: u16) {
        let status = if status == 403 { 403 } else { 401 };
        self.state.key_refused_with.store(status, Ordering::Relaxed);
    }

    /// The revoked key works again.
    pub fn restore_key(&self) {
        self.state.key_refused_with.store(0, Ordering::Relaxed);
    }

    /// Takes this bot's API down (`true`: every request for this bot, and for it alone, is
    /// answered HTTP 503, counted as a server error) or brings it back (`false`).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::Relaxed);
    }

    /// A snapshot of the data, for tests to compute expected values themselves.
    pub fn data(&self) -> SimData {
        self.state.read().clone()
    }

    pub fn set_faults(&self, faults: FaultOptions) {
        self.state.control().faults = faults;
    }

    pub fn faults(&self) -> FaultOptions {
        self.state.control().faults.clone()
    }

    pub fn set_quirks(&self, quirks: Quirks) {
        self.state.control().quirks = quirks;
    }

    /// New orders dated now (status COMPLETED or PENDING); returns their keys.
    pub fn add_orders(&self, n: usize) -> Vec<String> {
        self.state.add_orders(n)
    }

    /// Up to `n` random PENDING orders become COMPLETED; returns their keys.
    pub fn complete_pending(&self, n: usize) -> Vec<String> {
        self.state
            .change_status(n, OrderStatus::Pending, OrderStatus::Completed)
    }

    /// Up to `n` random COMPLETED orders become REFUNDED; returns their keys.
    pub fn refund(&self, n: usize) -> Vec<String> {
        self.state
            .change_status(n, OrderStatus::Completed, OrderStatus::Refunded)
    }

    /// Sets one order's status (its date stays); false if no order has this key.
    pub fn set_order_status(&self, order_key: &str, status: OrderStatus) -> bool {
        self.state
            .edit_order(order_key, |o| o.order_status = status)
    }

    /// Sets one order's native amount (its currency stays); false if no order has this
    /// key.
    pub fn set_order_amount(&self, order_key: &str, amount: Decimal) -> bool {
        self.state.edit_order(order_key, |o| o.amount = amount)
    }

    /// The orders with these keys disappear (`/orders/{key}` answers 404); returns how
    /// many there were.
    pub fn remove_orders(&self, keys: &[String]) -> usize {
        self.state.remove_orders(keys)
    }

    /// Up to `n` random memberships disappear; returns `(member_id, plan_id, project_id)`.
    pub fn remove_memberships(&self, n: usize) -> Vec<(u64, u64, u64)> {
        self.state.remove_memberships(n)
    }

    /// Adds a plan (after the others in `/plans` order, in the first project); returns its id.
    pub fn add_plan(&self, name: &str, price: Decimal, currency: Currency) -> u64 {
        self.state.add_plan(name, price, currency)
    }

    /// Adds one sale: a COMPLETED order of `amount` in `currency` (any of the 13, not only
    /// the plan's) on `plan_id`, dated `date`, without a member; returns its key.
    pub fn add_sale(&self, plan_id: u64, amount: Decimal, currency: Currency, date: i64) -> String {
        self.state.add_sale(plan_id, amount, currency, date)
    }

    /// Renames a plan (no-op for an unknown id); orders and reports show the new name.
    pub fn rename_plan(&self, plan_id: u64, name: &str) {
        self.state.rename_plan(plan_id, name);
    }

    /// Each `/orders` list request first inserts this many new newest orders.
    pub fn set_drift(&self, new_orders_per_orders_page: usize) {
        self.state.control().drift = new_orders_per_orders_page;
    }

    /// Installs (or removes) a hook that may rewrite every JSON body before it is sent.
    pub fn set_response_hook(&self, hook: Option<ResponseHook>) {
        self.state.control().hook = hook;
    }

    pub fn requests(&self) -> RequestCounts {
        self.state.counts().clone()
    }

    pub fn reset_counts(&self) {
        *self.state.counts() = RequestCounts::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimOptions;
    use crate::sim::data::generate;
    use crate::sim::model::Order;

    fn handle() -> SimHandle {
        let opts = SimOptions::default();
        let data = generate(&opts, unix_now());
        SimHandle {
            state: Arc::new(SimState::new(
                data,
                opts.api_key,
                opts.seed,
                FaultOptions::default(),
                Quirks::default(),
            )),
        }
    }

    #[test]
    fn added_orders_are_newest_and_sorted() {
        let h = handle();
        let keys = h.add_orders(5);
        let data = h.data();
        assert_eq!(data.orders.len(), 505);
        for key in &keys {
            let at = data.orders.iter().position(|o| &o.order_key == key);
            assert!(at.is_some_and(|i| i < 30), "{key} at {at:?}");
        }
        let orders: Vec<&Order> = data.orders.iter().collect();
        assert!(
            orders
                .windows(2)
                .all(|w| Order::api_order(w[0], w[1]) == std::cmp::Ordering::Less)
        );
    }

    #[test]
    fn status_changes_and_removals_report_what_changed() {
        let h = handle();
        let completed = h.complete_pending(3);
        assert_eq!(completed.len(), 3);
        let refunded = h.refund(2);
        let data = h.data();
        for key in &completed {
            let status = data.order(key).map(|o| o.order_status);
            assert!(matches!(
                status,
                Some(OrderStatus::Completed) | Some(OrderStatus::Refunded)
            ));
        }
        for key in &refunded {
            assert_eq!(
                data.order(key).map(|o| o.order_status),
                Some(OrderStatus::Refunded)
            );
        }
        let removed = h.remove_memberships(4);
        assert_eq!(removed.len(), 4);
        let data = h.data();
        assert_eq!(data.memberships.len(), 196);
        for (m, p, pr) in removed {
            assert!(
                !data
                    .memberships
                    .iter()
                    .any(|x| (x.member_id, x.plan_id, x.project_id) == (m, p, pr))
            );
        }
        let plan_id = data.plans[0].plan_id;
        h.rename_plan(plan_id, "Renamed");
        assert_eq!(h.data().plans[0].plan_name, "Renamed");
    }
}
