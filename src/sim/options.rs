//! What a simulator run is made of: data-set size and seed, fault shares and wire quirks.

use crate::currency::Currency;

use super::SimError;

/// The simulated bot and its data set. `Default` is a small data set for tests.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Seeds the data generator, the fault dice and the handle's mutations.
    pub seed: u64,
    pub bot_id: u64,
    /// The simulator's own fake key; requests must carry it in the path.
    pub api_key: String,
    pub orders: usize,
    /// Number of membership rows (`/members` rows).
    pub members: usize,
    pub plans: usize,
    pub projects: usize,
    pub coupons: usize,
    /// Users who never held a membership; `None` means `members / 2`.
    pub leads: Option<usize>,
    /// `None`: reports default to EUR.
    pub preferred_currency: Option<Currency>,
    pub faults: FaultOptions,
    pub quirks: Quirks,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            bot_id: 1_347_378_140,
            api_key: "sim-secret-key".to_string(),
            orders: 500,
            members: 200,
            plans: 8,
            projects: 3,
            coupons: 4,
            leads: None,
            preferred_currency: None,
            faults: FaultOptions::default(),
            quirks: Quirks::default(),
        }
    }
}

impl SimOptions {
    /// Rejects settings the simulator cannot honour (no plans, shares outside 0..=1, ...).
    pub fn validate(&self) -> Result<(), SimError> {
        if self.plans == 0 {
            return Err(SimError::InvalidOption(
                "plans must be at least 1 (orders and memberships need a plan)".to_string(),
            ));
        }
        if self.api_key.is_empty() || self.api_key.contains('/') {
            return Err(SimError::InvalidOption(
                "api_key must be non-empty and contain no `/`".to_string(),
            ));
        }
        self.faults.validate()
    }
}

/// Injected failures, each a share of API requests (0.0 ..= 1.0). `Default`: none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultOptions {
    /// Added to every API request before it is answered.
    pub latency_ms: u64,
    /// HTTP 429 responses.
    pub share_429: f64,
    /// `Retry-After` header value on 429s; `None` sends no header.
    pub retry_after_secs: Option<u64>,
    /// Put the wait in the body (`parameters.retry_after`, `retry_after_secs` or 1) instead
    /// of the header.
    pub retry_after_in_body: bool,
    /// HTTP 500/502/503 responses.
    pub share_5xx: f64,
    /// HTTP 200 with the JSON body cut mid-way (Content-Length matches the cut body).
    pub share_truncated: f64,
    /// The connection drops after part of the body.
    pub share_dropped: f64,
    /// HTTP 200 carrying `{"ok":false,"code":503,...}`.
    pub share_ok_false_200: f64,
    /// Requests per second above which the server answers 429 with `Retry-After`.
    pub max_rps: Option<f64>,
}

impl FaultOptions {
    pub fn validate(&self) -> Result<(), SimError> {
        let shares = [
            ("share_429", self.share_429),
            ("share_5xx", self.share_5xx),
            ("share_truncated", self.share_truncated),
            ("share_dropped", self.share_dropped),
            ("share_ok_false_200", self.share_ok_false_200),
        ];
        for (name, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return Err(SimError::InvalidOption(format!(
                    "{name} must be between 0 and 1, got {share}"
                )));
            }
        }
        let total: f64 = shares.iter().map(|(_, s)| s).sum();
        if total > 1.0 + 1e-9 {
            return Err(SimError::InvalidOption(format!(
                "fault shares add up to {total}, more than 1"
            )));
        }
        if let Some(rps) = self.max_rps
            && !(rps > 0.0 && rps.is_finite())
        {
            return Err(SimError::InvalidOption(format!(
                "max_rps must be a positive number, got {rps}"
            )));
        }
        Ok(())
    }
}

/// Wire-format variations the docs allow or real responses show. `Default`: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Ids (`member_id`, `plan_id`, `project_id`, coupon `plans`) as numeric strings.
    pub ids_as_strings: bool,
    /// Money (`amount`, `price`, `revenue`, coupon amounts) as JSON numbers, exact digits.
    pub money_as_numbers: bool,
    /// Successful envelopes without the `ok` field.
    pub omit_ok: bool,
    /// Unknown fields (`sim_extra`, `sim_meta`) added to every result row.
    pub extra_fields: bool,
    /// The report endpoints' `revenue` summed in binary floating point and printed as the
    /// shortest decimal that reads back as the same f64, residue and all, like the API
    /// text's `"398.60636332000007"`. `formatted` stays the exact sum's rounding.
    pub float_revenue: bool,
}
