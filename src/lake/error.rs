//! Why the lake output failed: one enum, each variant naming the table or location at
//! fault and what to do next. Texts from the object store pass through
//! [`crate::secret::redact`] (which knows the AWS credentials of this process) and are cut
//! down to the store's error code and message, never a whole XML body.

use crate::load::LoadError;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error(
        "the lake at {url} refused the credentials ({detail}): check AWS_ACCESS_KEY_ID, \
         AWS_SECRET_ACCESS_KEY (or the AWS credentials file) and the bucket's permissions"
    )]
    Refused { url: String, detail: String },

    #[error("the lake at {url} could not be reached or kept failing ({detail})")]
    Unavailable { url: String, detail: String },

    #[error("Delta table {table} at {url}: {detail}")]
    Table {
        table: &'static str,
        url: String,
        detail: String,
    },

    #[error(
        "Delta table {table}: {attempts} commits in a row lost to other writers; the run's \
         files stay owed and the next run commits them"
    )]
    Contended { table: &'static str, attempts: u32 },

    #[error(
        "Delta table {table}: column `{column}` has type {found}, which the lake output cannot write"
    )]
    UnsupportedType {
        table: &'static str,
        column: String,
        found: String,
    },

    #[error(
        "Delta table {table}: column `{column}` is {in_lake} in the lake but {in_warehouse} in \
         the warehouse, and Delta cannot change a column's type; point lake_url at a new \
         location (the next run publishes everything there)"
    )]
    SchemaConflict {
        table: &'static str,
        column: String,
        in_lake: String,
        in_warehouse: String,
    },

    #[error("writing a Parquet file for Delta table {table}: {detail}")]
    Parquet { table: &'static str, detail: String },

    #[error(transparent)]
    Load(#[from] LoadError),
}

/// A store or delta-rs error's text, shortened and with credentials removed.
pub(crate) fn describe(err: &dyn std::fmt::Display) -> String {
    let text = crate::secret::redact(&err.to_string());
    summarise_xml(&text).unwrap_or(text)
}

/// `… <Code>X</Code><Message>Y</Message> …` → `… X: Y`, dropping the rest of an S3 error
/// body (request ids, canonical requests, key ids).
fn summarise_xml(text: &str) -> Option<String> {
    let tag = |name: &str| -> Option<&str> {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find(&close)?;
        Some(&text[start..end])
    };
    let code = tag("Code")?;
    let head = text.split('<').next().unwrap_or("").trim_end();
    Some(match tag("Message") {
        Some(message) => format!("{head} {code}: {message}"),
        None => format!("{head} {code}"),
    })
}

/// Whether a store error means the credentials or permissions were refused.
pub(crate) fn is_refusal(text: &str) -> bool {
    const MARKS: [&str; 9] = [
        "403",
        "401",
        "Forbidden",
        "Unauthorized",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "ExpiredToken",
        "credential",
    ];
    MARKS.iter().any(|m| text.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_bodies_shrink_to_code_and_message() {
        let text = "Client error with status 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId></Error>";
        let short = describe(&text);
        assert_eq!(
            short,
            "Client error with status 403 Forbidden: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records."
        );
        assert!(is_refusal(&short));
        assert!(!short.contains("AKIAEXAMPLE"), "{short}");
    }

    #[test]
    fn plain_texts_pass_unchanged() {
        assert_eq!(describe(&"connection refused"), "connection refused");
        assert!(!is_refusal("connection refused"));
    }
}
