//! The streams: one module per endpoint family, each knowing its endpoint, its key, how
//! to read a row and which strategy keeps it current.
//!
//! | stream | endpoint | key (after bot_id) | strategy |
//! |---|---|---|---|
//! | orders | /orders | order_key | newest-first with a lookback window, periodic full scan |
//! | members | /members | member_id, plan_id, project_id | full scan, soft deletes |
//! | plans | /plans | plan_id | full scan, soft deletes |
//! | projects | /projects | project_id | full scan, soft deletes |
//! | coupons | /coupons | name | full scan, soft deletes |
//! | payment_methods | /paymentMethods | name | full scan, soft deletes |
//! | users_count | /users/count | run | one snapshot per run |

use std::fmt;
use std::str::FromStr;

pub mod catalog;
pub mod fetch;

/// A stream the user can name in `--streams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamName {
    Plans,
    Projects,
    Coupons,
    PaymentMethods,
    Members,
    Orders,
    UsersCount,
}

impl StreamName {
    /// All streams, in the order a run reports them.
    pub const ALL: [StreamName; 7] = [
        StreamName::Plans,
        StreamName::Projects,
        StreamName::Coupons,
        StreamName::PaymentMethods,
        StreamName::Members,
        StreamName::Orders,
        StreamName::UsersCount,
    ];

    /// Reference data the other streams point at; synced first.
    pub fn is_dimension(self) -> bool {
        matches!(
            self,
            StreamName::Plans
                | StreamName::Projects
                | StreamName::Coupons
                | StreamName::PaymentMethods
        )
    }

    /// The stream as a paged table, or `None` for `users_count` (one snapshot a run).
    pub fn table(self) -> Option<TableStream> {
        match self {
            StreamName::Plans => Some(TableStream::Plans),
            StreamName::Projects => Some(TableStream::Projects),
            StreamName::Coupons => Some(TableStream::Coupons),
            StreamName::PaymentMethods => Some(TableStream::PaymentMethods),
            StreamName::Members => Some(TableStream::Members),
            StreamName::Orders => Some(TableStream::Orders),
            StreamName::UsersCount => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamName::Plans => "plans",
            StreamName::Projects => "projects",
            StreamName::Coupons => "coupons",
            StreamName::PaymentMethods => "payment_methods",
            StreamName::Members => "members",
            StreamName::Orders => "orders",
            StreamName::UsersCount => "users_count",
        }
    }
}

/// A stream that is paged from a list endpoint and merged into its table by key: every
/// stream but `users_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableStream {
    Plans,
    Projects,
    Coupons,
    PaymentMethods,
    Members,
    Orders,
}

impl TableStream {
    pub fn name(self) -> StreamName {
        match self {
            TableStream::Plans => StreamName::Plans,
            TableStream::Projects => StreamName::Projects,
            TableStream::Coupons => StreamName::Coupons,
            TableStream::PaymentMethods => StreamName::PaymentMethods,
            TableStream::Members => StreamName::Members,
            TableStream::Orders => StreamName::Orders,
        }
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StreamName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', '/'], "_");
        let found = match norm.as_str() {
            "paymentmethods" => Some(StreamName::PaymentMethods),
            "userscount" | "users" => Some(StreamName::UsersCount),
            "memberships" => Some(StreamName::Members),
            _ => StreamName::ALL.into_iter().find(|n| n.as_str() == norm),
        };
        found.ok_or_else(|| {
            format!(
                "unknown stream; expected one of {}",
                StreamName::ALL.map(|n| n.as_str()).join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for s in StreamName::ALL {
            assert_eq!(s.as_str().parse::<StreamName>(), Ok(s));
        }
        assert_eq!(
            "paymentMethods".parse::<StreamName>(),
            Ok(StreamName::PaymentMethods)
        );
        assert_eq!(
            "users/count".parse::<StreamName>(),
            Ok(StreamName::UsersCount)
        );
        assert!("bogus".parse::<StreamName>().is_err());
        for s in StreamName::ALL {
            match s.table() {
                Some(table) => assert_eq!(table.name(), s),
                None => assert_eq!(s, StreamName::UsersCount),
            }
        }
    }
}
