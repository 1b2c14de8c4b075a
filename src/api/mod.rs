//! The TGmembership API as the ETL sees it (docs/data-contract.md §1): where to call, how to read an
//! answer, when to retry, how to page, the tolerant reader of a row, and the report
//! endpoints' answers (the streams' rows are declared in `streams`).
//!
//! The client is read-only by construction: it only issues `GET`, and only for the
//! methods listed in [`Method`].

pub(crate) mod client;
pub(crate) mod endpoint;
pub(crate) mod envelope;
pub(crate) mod error;
pub mod models;
pub mod pager;
pub mod retry;
pub(crate) mod row;

pub use client::{ApiClient, ClientSettings, RequestStats};
pub use endpoint::{ApiVersion, Endpoint, Method};
pub use error::ApiError;
