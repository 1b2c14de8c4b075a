//! A built-in simulator of the TGmembership API (v1 and the legacy aliases) for demos,
//! tests and the benchmark: one or many bots, each with deterministic data from its seed, every report computed per
//! docs/data-contract.md §2, fault injection, and an in-process handle to mutate data between runs.
//!
//! `data` generates (the catalogue in `catalog`, the orders in `orders`), `state` holds and mutates, `routes` + `endpoints` + `params` serve,
//! `reports` (+ `tally`) + `rates` + `periods` + `format` compute the report values, `render` writes
//! JSON (with the wire `Quirks`), `faults` breaks responses on purpose.

mod catalog;
pub(crate) mod cli;
mod data;
mod endpoints;
mod faults;
pub mod format;
mod glitches;
mod keys;
mod model;
mod options;
mod orders;
mod params;
pub(crate) mod periods;
pub mod rates;
mod render;
pub(crate) mod reports;
mod routes;
mod server;
#[cfg(test)]
mod server_tests;
mod state;
mod tally;

pub use catalog::{SQL_COUPON_NAME, SQL_PLAN_NAME};
pub use data::HISTORY_SECS;
pub use glitches::{BadRow, bad_rows};
pub use model::{
    Coupon, CouponRevenue, GATEWAYS, Gateway, Membership, Order, OrderStatus, Plan, PlanOptions,
    Project, SimData, email_for, gateway,
};
pub use options::{FaultOptions, Quirks, SimBot, SimOptions};
pub use server::SimServer;
pub use state::{FaultCounts, RequestCounts, RequestInfo, ResponseHook, SimHandle};

/// What can stop the simulator from running.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SimError {
    #[error("invalid simulator option: {0}")]
    InvalidOption(String),
    #[error("simulator could not listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("simulator stopped serving: {0}")]
    Serve(std::io::Error),
    #[error("could not wait for Ctrl-C: {0}")]
    Signal(std::io::Error),
}
