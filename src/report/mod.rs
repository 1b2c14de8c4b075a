//! The report layer from the outside: comparing the warehouse's reports (the macros of
//! `sql/reports.sql`) with the API's live report endpoints.

pub(crate) mod compare;
pub(crate) mod render;
pub(crate) mod verify;
