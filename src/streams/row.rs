//! How a stream's row is declared: once, field by field, each field with the column it
//! fills and that column's type. [`staged_row!`] turns one declaration into the row
//! struct, its staged columns (`bot_id` first) and the code that writes a row into an
//! Arrow batch, so a field, its column and its writer cannot drift apart. A field whose
//! Rust type does not fit its column type does not compile.
//!
//! Reading a row from the API's JSON stays hand-written in each stream's module (nested
//! objects, tolerated shapes), as `from_json`.

use serde_json::Value;

use crate::api::row::RowError;
use crate::bot_id::BotId;
use crate::money::Amount;
use crate::streams::batch::BatchWriter;
use crate::streams::table::{Column, ColumnType};

/// A row a stream stages: read from JSON, written column by column.
pub(crate) trait StagedRow: Sized + Send + 'static {
    /// The staged columns, `bot_id` first, in the order [`StagedRow::write`] fills them.
    const COLUMNS: &'static [Column];
    /// Reads one row of the API's answer.
    fn read(row: Value) -> Result<Self, RowError>;
    /// Writes the row's columns in `COLUMNS` order (the caller ends the row).
    fn write(&self, bot_id: BotId, w: &mut BatchWriter);
}

/// Reads `row` as an `R` and, only if it reads, writes it: a row that cannot be read
/// leaves nothing half-written.
pub(crate) fn stage_row<R: StagedRow>(
    row: Value,
    bot_id: BotId,
    w: &mut BatchWriter,
) -> Result<(), RowError> {
    let parsed = R::read(row)?;
    parsed.write(bot_id, w);
    Ok(())
}

/// Whether `row` reads as an `R` (the dry run's count).
pub(crate) fn check_row<R: StagedRow>(row: Value) -> Result<(), RowError> {
    R::read(row).map(drop)
}

/// Column types as marker types, so a field's declared column type picks its writer at
/// compile time.
pub(crate) mod kind {
    use super::ColumnType;

    /// A column type as a type.
    pub(crate) trait Kind {
        const TYPE: ColumnType;
    }
    macro_rules! kinds {
        ($($name:ident),*) => {$(
            #[doc = concat!("A `", stringify!($name), "` column.")]
            pub(crate) struct $name;
            impl Kind for $name {
                const TYPE: ColumnType = ColumnType::$name;
            }
        )*};
    }
    kinds!(Text, Int, Bool, Money, Timestamp, IntList, TextList);
}

/// A Rust value that fills a column of kind `K`.
pub(crate) trait WriteAs<K: kind::Kind> {
    fn write_as(&self, w: &mut BatchWriter);
}

macro_rules! write_as {
    ($kind:ident, $ty:ty, |$v:ident, $w:ident| $body:expr) => {
        impl WriteAs<kind::$kind> for $ty {
            fn write_as(&self, $w: &mut BatchWriter) {
                let $v = self;
                $body
            }
        }
    };
}

write_as!(Text, String, |v, w| w.text(Some(v)));
write_as!(Text, Option<String>, |v, w| w.text(v.as_deref()));
write_as!(Int, i64, |v, w| w.int(Some(*v)));
write_as!(Int, Option<i64>, |v, w| w.int(*v));
write_as!(Timestamp, i64, |v, w| w.timestamp(Some(*v)));
write_as!(Timestamp, Option<i64>, |v, w| w.timestamp(*v));
write_as!(Bool, Option<bool>, |v, w| w.bool(*v));
write_as!(Money, Option<Amount>, |v, w| w.money(*v));
write_as!(IntList, Option<Vec<i64>>, |v, w| w.int_list(v.as_deref()));
write_as!(TextList, Option<Vec<String>>, |v, w| w
    .text_list(v.as_deref()));

/// A field's column name: its own name unless the declaration says `as "name"`.
#[doc(hidden)]
#[macro_export]
macro_rules! __column_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $column:literal) => {
        $column
    };
}

/// Declares a stream's row once: `field: RustType => ColumnKind [as "column"]`, in the
/// table's column order. Generates the struct (public fields), its [`StagedRow::COLUMNS`]
/// (`bot_id` first) and [`StagedRow::write`]; reading stays the struct's own
/// `from_json`.
#[macro_export]
macro_rules! staged_row {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident : $ty:ty => $kind:ident $(as $column:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl $crate::streams::row::StagedRow for $name {
            const COLUMNS: &'static [$crate::streams::table::Column] = &[
                $crate::streams::table::col("bot_id", $crate::streams::table::ColumnType::Int),
                $(
                    $crate::streams::table::col(
                        $crate::__column_name!($field $(, $column)?),
                        <$crate::streams::row::kind::$kind as $crate::streams::row::kind::Kind>::TYPE,
                    ),
                )*
            ];

            fn read(row: serde_json::Value) -> Result<Self, $crate::api::row::RowError> {
                $name::from_json(row)
            }

            fn write(&self, bot_id: $crate::bot_id::BotId, w: &mut $crate::streams::batch::BatchWriter) {
                w.int(Some(bot_id.as_i64()));
                $(
                    <$ty as $crate::streams::row::WriteAs<$crate::streams::row::kind::$kind>>::write_as(
                        &self.$field,
                        w,
                    );
                )*
            }
        }
    };
}
