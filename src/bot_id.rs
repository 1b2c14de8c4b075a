//! A bot's id: one type from the settings, through the API client, to the warehouse.
//!
//! Telegram bot ids are positive integers. The warehouse keeps them as `BIGINT` (every
//! key starts with `bot_id`), the partition paths and the API's URL print them, and the
//! settings read them from TOML, flags and the environment. [`BotId`] is checked once,
//! where it is parsed (positive, and small enough for `BIGINT`), so no code downstream
//! casts between `u64` and `i64` or meets an id the warehouse cannot hold.

use std::fmt;
use std::str::FromStr;

use duckdb::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// A bot's id: positive and at most `i64::MAX`, so it is the same number in the API's
/// URL (`u64`) and in the warehouse's `BIGINT` columns.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "u64")]
pub struct BotId(i64);

/// Why a number or text is not a bot id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bot id `{0}` is not a positive integer of at most 9223372036854775807")]
pub struct BotIdError(pub String);

impl BotId {
    /// The id, if `id` is positive and fits the warehouse's `BIGINT`.
    pub fn new(id: u64) -> Result<BotId, BotIdError> {
        match i64::try_from(id) {
            Ok(value) if value > 0 => Ok(BotId(value)),
            _ => Err(BotIdError(id.to_string())),
        }
    }

    /// An id written in the program (a test's bot, a constant): in a `const` a bad literal
    /// fails the build (`const BOT: BotId = BotId::constant(42);`). Input is parsed with
    /// [`BotId::new`] or `str::parse` instead, which return the error.
    pub const fn constant(id: u64) -> BotId {
        assert!(
            id > 0 && id <= i64::MAX as u64,
            "a bot id is positive and at most i64::MAX"
        );
        BotId(id as i64)
    }

    /// The id as the API and the settings write it.
    pub fn get(self) -> u64 {
        self.0.unsigned_abs()
    }

    /// The id as the warehouse and the Arrow batches hold it (`BIGINT`).
    pub fn as_i64(self) -> i64 {
        self.0
    }
}

impl TryFrom<u64> for BotId {
    type Error = BotIdError;

    fn try_from(id: u64) -> Result<BotId, BotIdError> {
        BotId::new(id)
    }
}

impl TryFrom<i64> for BotId {
    type Error = BotIdError;

    fn try_from(id: i64) -> Result<BotId, BotIdError> {
        match id {
            1.. => Ok(BotId(id)),
            _ => Err(BotIdError(id.to_string())),
        }
    }
}

impl FromStr for BotId {
    type Err = BotIdError;

    fn from_str(text: &str) -> Result<BotId, BotIdError> {
        let text = text.trim();
        text.parse::<u64>()
            .map_err(|_| BotIdError(text.to_string()))
            .and_then(BotId::new)
    }
}

/// The bare number, as in URLs, partition paths and messages (`bot 42`).
impl fmt::Display for BotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The bare number too, so `{:?}` of a struct holding one reads as before.
impl fmt::Debug for BotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl serde::Serialize for BotId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.get())
    }
}

impl ToSql for BotId {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

/// A `bot_id` column read back: a stored id that is not positive is a corrupt row.
impl FromSql for BotId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<BotId> {
        let id = i64::column_result(value)?;
        BotId::try_from(id).map_err(|err| FromSqlError::Other(Box::new(err)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_positive_and_fits_bigint() {
        assert_eq!(BotId::new(42).map(BotId::get), Ok(42));
        assert_eq!(BotId::new(i64::MAX as u64).map(BotId::as_i64), Ok(i64::MAX));
        assert!(BotId::new(0).is_err());
        // One past BIGINT: a cast would have stored it as a negative number.
        assert_eq!(
            BotId::new(1 << 63),
            Err(BotIdError("9223372036854775808".into()))
        );
        assert!(BotId::try_from(-5_i64).is_err());
    }

    #[test]
    fn text_parses_and_prints_as_the_bare_number() {
        let id: BotId = " 1347378140 ".parse().expect("an id");
        assert_eq!(id.to_string(), "1347378140");
        assert_eq!(format!("{id:?}"), "1347378140");
        for bad in ["", "-1", "0", "12x", "9223372036854775808"] {
            let err = bad.parse::<BotId>().expect_err(bad);
            assert!(
                err.to_string().contains(&format!("`{}`", bad.trim())),
                "{err}"
            );
        }
    }

    #[test]
    fn serde_reads_and_writes_a_number_and_refuses_zero() {
        #[derive(serde::Deserialize)]
        struct Bot {
            bot_id: BotId,
        }
        let bot: Bot = serde_json::from_str(r#"{"bot_id": 7}"#).expect("a bot");
        assert_eq!(bot.bot_id.get(), 7);
        assert_eq!(serde_json::to_string(&bot.bot_id).expect("json"), "7");
        let err = serde_json::from_str::<Bot>(r#"{"bot_id": 0}"#)
            .err()
            .expect("zero refused");
        assert!(err.to_string().contains("bot id `0`"), "{err}");
    }

    #[test]
    fn the_warehouse_stores_and_reads_a_bigint() {
        let conn = duckdb::Connection::open_in_memory().expect("duckdb");
        conn.execute_batch("CREATE TABLE t (bot_id BIGINT); INSERT INTO t VALUES (-3)")
            .expect("table");
        let id = BotId::new(9_000_000_000).expect("an id");
        conn.execute("INSERT INTO t VALUES (?)", [id])
            .expect("insert");
        let back: BotId = conn
            .query_row("SELECT bot_id FROM t WHERE bot_id > 0", [], |r| r.get(0))
            .expect("read back");
        assert_eq!(back, id);
        let corrupt = conn.query_row("SELECT bot_id FROM t WHERE bot_id < 0", [], |r| {
            r.get::<_, BotId>(0)
        });
        assert!(corrupt.is_err(), "a negative stored id is refused");
    }
}
