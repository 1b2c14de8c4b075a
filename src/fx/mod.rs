//! Exchange rates, read off the API's own `/revenue` (docs/data-contract.md §2.2, §2.9).
//!
//! [`windows`] finds time windows whose sales are all in one currency; [`pair_rate`]
//! solves a pair's 8-decimal rate from one answer over such a window, within the float
//! [`residue`] an answer may carry; [`prefetch`] asks the canaries while the streams load;
//! [`memo`] shares the run's answers, with [`reconcile`] (the orders strategy's check of the
//! older sales against the API's totals); [`capture`] refreshes the report inputs (gateways,
//! preferred currency, rates) after the streams and hands them to the warehouse
//! (`warehouse::inputs`) to write.

pub(crate) mod capture;
pub mod memo;
pub(crate) mod pair_rate;
pub(crate) mod prefetch;
pub mod reconcile;
pub mod residue;
pub(crate) mod windows;
