//! The report layer from the outside: rendering the warehouse's reports (the macros of
//! `sql/reports.sql`) for `tgm-sync report`, and verifying them against the API's live
//! report endpoints.

pub(crate) mod compare;
pub(crate) mod render;
pub(crate) mod verify;
