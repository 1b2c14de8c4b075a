//! Rows → Arrow record batches, column by column, in the order a [`TableSpec`] lists.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Decimal128Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::table::{ColumnType, TableSpec};
use crate::money::{Amount, PRECISION, SCALE};

enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
    Money(Decimal128Builder),
    Timestamp(TimestampMicrosecondBuilder),
    IntList(ListBuilder<Int64Builder>),
    TextList(ListBuilder<StringBuilder>),
}

impl Builder {
    fn new(ty: ColumnType) -> Builder {
        match ty {
            ColumnType::Text => Builder::Text(StringBuilder::new()),
            ColumnType::Int => Builder::Int(Int64Builder::new()),
            ColumnType::Bool => Builder::Bool(BooleanBuilder::new()),
            ColumnType::Money => Builder::Money(
                Decimal128Builder::new()
                    .with_precision_and_scale(PRECISION, SCALE as i8)
                    .unwrap_or_else(|_| Decimal128Builder::new()),
            ),
            ColumnType::Timestamp => {
                Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::IntList => Builder::IntList(ListBuilder::new(Int64Builder::new())),
            ColumnType::TextList => Builder::TextList(ListBuilder::new(StringBuilder::new())),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Money(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::IntList(b) => Arc::new(b.finish()),
            Builder::TextList(b) => Arc::new(b.finish()),
        }
    }
}

/// Accumulates rows for one table; each row writes every column in order, then `end_row`.
pub struct BatchWriter {
    spec: &'static TableSpec,
    builders: Vec<Builder>,
    seq: Int64Builder,
    column: usize,
    rows: usize,
    mistake: Option<String>,
}

impl BatchWriter {
    pub fn new(spec: &'static TableSpec) -> BatchWriter {
        BatchWriter {
            spec,
            builders: spec.columns.iter().map(|c| Builder::new(c.ty)).collect(),
            seq: Int64Builder::new(),
            column: 0,
            rows: 0,
            mistake: None,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    fn next(&mut self, wanted: ColumnType) -> Option<&mut Builder> {
        let index = self.column;
        self.column += 1;
        match self.spec.columns.get(index) {
            Some(c) if c.ty == wanted => self.builders.get_mut(index),
            found => {
                if self.mistake.is_none() {
                    self.mistake = Some(format!(
                        "{}: column {index} written as {wanted:?}, spec says {:?}",
                        self.spec.name,
                        found.map(|c| (c.name, c.ty))
                    ));
                }
                None
            }
        }
    }

    pub fn text(&mut self, v: Option<&str>) {
        if let Some(Builder::Text(b)) = self.next(ColumnType::Text) {
            b.append_option(v);
        }
    }

    pub(crate) fn int(&mut self, v: Option<i64>) {
        if let Some(Builder::Int(b)) = self.next(ColumnType::Int) {
            b.append_option(v);
        }
    }

    pub fn bool(&mut self, v: Option<bool>) {
        if let Some(Builder::Bool(b)) = self.next(ColumnType::Bool) {
            b.append_option(v);
        }
    }

    pub fn money(&mut self, v: Option<Amount>) {
        if let Some(Builder::Money(b)) = self.next(ColumnType::Money) {
            b.append_option(v.map(Amount::scaled));
        }
    }

    /// UNIX seconds.
    pub fn timestamp(&mut self, v: Option<i64>) {
        if let Some(Builder::Timestamp(b)) = self.next(ColumnType::Timestamp) {
            b.append_option(v.and_then(|s| s.checked_mul(1_000_000)));
        }
    }

    pub(crate) fn int_list(&mut self, v: Option<&[i64]>) {
        if let Some(Builder::IntList(b)) = self.next(ColumnType::IntList) {
            match v {
                Some(items) => {
                    b.values().append_slice(items);
                    b.append(true);
                }
                None => b.append(false),
            }
        }
    }

    pub(crate) fn text_list(&mut self, v: Option<&[String]>) {
        if let Some(Builder::TextList(b)) = self.next(ColumnType::TextList) {
            match v {
                Some(items) => {
                    for item in items {
                        b.values().append_value(item);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
    }

    /// Closes the row; `seq` is its arrival order in the run (the last copy of a key wins).
    pub fn end_row(&mut self, seq: i64) {
        if self.column != self.spec.columns.len() && self.mistake.is_none() {
            self.mistake = Some(format!(
                "{}: row wrote {} columns, spec has {}",
                self.spec.name,
                self.column,
                self.spec.columns.len()
            ));
        }
        self.seq.append_value(seq);
        self.column = 0;
        self.rows += 1;
    }

    /// The rows so far as one batch; the writer starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        if let Some(mistake) = self.mistake.take() {
            return Err(ArrowError::InvalidArgumentError(mistake));
        }
        let mut arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        arrays.push(Arc::new(self.seq.finish()));
        self.rows = 0;
        RecordBatch::try_new(self.spec.arrow_schema(), arrays)
    }
}
