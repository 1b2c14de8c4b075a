//! What a simulator run is made of: data-set size and seed, fault shares and wire quirks.

use crate::currency::Currency;

use super::SimError;

/// The default [`SimOptions::cross_currency_share`]: a small share, so most currencies
/// still have runs of sales of their own for the ETL's exchange-rate capture.
pub(super) const DEFAULT_CROSS_CURRENCY_SHARE: f64 = 0.03;

/// Seeds of the bots after the first lie this far apart (an odd constant, so `seed + i ×
/// SEED_STRIDE` never repeats among 2^64 bots).
const SEED_STRIDE: u64 = 0x9E37_79B9_7F4A_7C15;

/// The simulated bots and their data sets. `Default` is one bot with a small data set,
/// for tests.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Seeds the first bot's data generator, fault dice and mutations; the others' seeds
    /// follow from it (see [`SimOptions::bot_list`]).
    pub seed: u64,
    /// The first bot's id; the others follow it (`bot_id + 1`, `bot_id + 2`, ...).
    pub bot_id: u64,
    /// The first bot's own fake key; requests must carry their bot's key in the path.
    /// The others' keys are this key followed by `-` and their bot id.
    pub api_key: String,
    /// How many bots the server serves, each with its own data set of the sizes below,
    /// its own key, request counts and faults (at least 1).
    pub bots: usize,
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
    /// Share of the generated data set's orders paid in another of the 13 currencies
    /// than their plan's (the API text's sample has a TRY sale on a USD plan), 0.0 ..= 1.0.
    /// Orders the handle adds later (`add_orders`) are in their plan's currency;
    /// `SimHandle::add_sale` makes one in any currency.
    pub cross_currency_share: f64,
    /// `None`: orders span 3 years ([`super::HISTORY_SECS`]), most of them recent (the
    /// density falls with age). `Some(days)`: orders spread evenly over that many days
    /// back from now, as an API with a steady trade has them (at least 1).
    pub history_days: Option<u32>,
    pub faults: FaultOptions,
    pub quirks: Quirks,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            bot_id: 1_347_378_140,
            api_key: "sim-secret-key".to_string(),
            bots: 1,
            orders: 500,
            members: 200,
            plans: 8,
            projects: 3,
            coupons: 4,
            leads: None,
            preferred_currency: None,
            cross_currency_share: DEFAULT_CROSS_CURRENCY_SHARE,
            history_days: None,
            faults: FaultOptions::default(),
            quirks: Quirks::default(),
        }
    }
}

/// One of the simulated bots: its id, key and seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBot {
    pub bot_id: u64,
    pub api_key: String,
    pub seed: u64,
}

impl SimOptions {
    /// Every bot the server serves, in order: the first is `bot_id` with `api_key` and
    /// `seed` as given; bot `i` (from 0) has id `bot_id + i`, key `api_key-<its id>` and
    /// seed `seed + i × SEED_STRIDE`, so each bot's data set is its own and the same on
    /// every start.
    pub fn bot_list(&self) -> Vec<SimBot> {
        (0..self.bots.max(1) as u64)
            .map(|i| {
                let bot_id = self.bot_id.wrapping_add(i);
                SimBot {
                    bot_id,
                    api_key: if i == 0 {
                        self.api_key.clone()
                    } else {
                        format!("{}-{bot_id}", self.api_key)
                    },
                    seed: self.seed.wrapping_add(i.wrapping_mul(SEED_STRIDE)),
                }
            })
            .collect()
    }

    /// The options of one bot alone (its id, key and seed; one bot).
    pub(crate) fn for_bot(&self, bot: &SimBot) -> SimOptions {
        SimOptions {
            seed: bot.seed,
            bot_id: bot.bot_id,
            api_key: bot.api_key.clone(),
            bots: 1,
            ..self.clone()
        }
    }

    /// Rejects settings the simulator cannot honour (no plans, shares outside 0..=1, ...).
    pub(crate) fn validate(&self) -> Result<(), SimError> {
        if self.plans == 0 {
            return Err(SimError::InvalidOption(
                "plans must be at least 1 (orders and memberships need a plan)".to_string(),
            ));
        }
        if !(0.0..=1.0).contains(&self.cross_currency_share) {
            return Err(SimError::InvalidOption(format!(
                "cross_currency_share must be between 0 and 1, got {}",
                self.cross_currency_share
            )));
        }
        if self.history_days == Some(0) {
            return Err(SimError::InvalidOption(
                "history_days must be at least 1".to_string(),
            ));
        }
        if self.bots == 0 || self.bot_id.checked_add(self.bots as u64).is_none() {
            return Err(SimError::InvalidOption(format!(
                "bots must be at least 1 and their ids fit in 64 bits, got {} bots from id {}",
                self.bots, self.bot_id
            )));
        }
        // Any character may be in the key: the client sends it as one percent-encoded
        // path segment (a `/` as `%2F`), and the routes decode it after splitting.
        if self.api_key.is_empty() {
            return Err(SimError::InvalidOption(
                "api_key must be non-empty".to_string(),
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
    /// Every list answers `ok: true` with `[]` (a backend glitch).
    pub empty_lists: bool,
    /// Every list answers `{"ok": true}` without `result`.
    pub lists_without_result: bool,
    /// `offset` is ignored: every page is the first.
    pub ignore_offset: bool,
    /// A few `/orders` and `/members` rows carry values no column type can hold
    /// (`sim::bad_rows` lists them).
    pub bad_rows: bool,
    /// Every answer is padded with this many bytes (`sim_padding`).
    pub oversized_body_bytes: Option<usize>,
}

impl FaultOptions {
    pub(crate) fn validate(&self) -> Result<(), SimError> {
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
    /// Convert at the exact rates with no rounding, instead of the API text's arithmetic
    /// (8-decimal pair rates, each converted order rounded to 8 decimals; docs/data-contract.md §2.2).
    pub exact_rates: bool,
    /// `/paymentMethods` and `/paymentMethods/report` answer 404, and `/payment_methods`
    /// and `/payment_methods/report` (the API text's samples' `path`) serve them.
    pub payment_methods_snake: bool,
    /// The service moved its rates table (one EUR buys 1.09 USD, not 1.08): every pair
    /// with USD on one side has another 8-decimal rate. Ignored under `exact_rates`.
    pub rates_moved: bool,
}

impl Quirks {
    /// How reports and converted `/orders` pages convert money under these quirks.
    pub fn arithmetic(&self) -> super::rates::Arithmetic {
        if self.exact_rates {
            super::rates::Arithmetic::Exact
        } else if self.rates_moved {
            super::rates::Arithmetic::QuotedMoved
        } else {
            super::rates::Arithmetic::Quoted
        }
    }
}
