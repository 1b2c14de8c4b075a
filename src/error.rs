//! The error of a step that talks to the API and the warehouse: one or the other failed.
//! Shared by the sync run, its report-input and reconciliation steps (each used to wrap
//! the same two errors in a type of its own).

use crate::api::ApiError;
use crate::warehouse::LoadError;

/// The API or the warehouse failed; the message is the underlying one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Load(#[from] LoadError),
}
