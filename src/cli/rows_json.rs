//! Query results (Arrow batches) as JSON objects, one per row, for `status --format json`:
//! integers and floats as numbers, NULL as null, everything else as the text a table shows.

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Value};

/// Every row of `batches` as an object keyed by column name, in order.
pub(super) fn rows(batches: &[RecordBatch]) -> Result<Vec<Value>, ArrowError> {
    let options = FormatOptions::default();
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let mut object = Map::new();
            for ((field, column), formatter) in
                schema.fields().iter().zip(batch.columns()).zip(&formatters)
            {
                let value = if column.is_null(row) {
                    Value::Null
                } else {
                    let text = formatter.value(row).to_string();
                    number(field.data_type(), &text).unwrap_or(Value::String(text))
                };
                object.insert(field.name().clone(), value);
            }
            out.push(Value::Object(object));
        }
    }
    Ok(out)
}

/// A numeric column's value as a JSON number.
fn number(data_type: &DataType, text: &str) -> Option<Value> {
    if data_type.is_integer() {
        return text
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| text.parse::<u64>().map(Value::from).ok());
    }
    if data_type.is_floating() {
        return text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number);
    }
    None
}
