//! Why the lake output failed: one enum, each variant naming the table or location at
//! fault and what to do next. Texts from the object store pass through
//! [`crate::secret::redact`] (which knows the AWS credentials of this process) and are cut
//! down to the store's error code and message, never a whole XML body.

use crate::warehouse::LoadError;

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

/// The prefix object_store gives the text of a request that got an error status
/// (`RequestError::Status`, whose type it does not export): the status follows.
const STATUS_PREFIX: &str = "Server returned non-2xx status code: ";

/// Whether a store error means the credentials or permissions were refused: an HTTP
/// 401 or 403 anywhere in its chain of causes (object_store's `Unauthenticated` and
/// `PermissionDenied`, or the status of a failed request), or no credentials to be had
/// from the AWS provider chain. Never the digits `401`/`403` in a URL or a message: a
/// lake under `s3://bucket/403/` or an error about `part-401.parquet` is not a refusal,
/// and a commit that failed otherwise is retried.
pub(crate) fn is_refusal(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(store) = e.downcast_ref::<object_store::Error>() {
            match store {
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. } => return true,
                object_store::Error::NotImplemented { operation, .. }
                    if operation == "credentials_provider" =>
                {
                    return true;
                }
                // How delta-rs passes on the AWS provider chain's failure to find any.
                object_store::Error::NotSupported { source }
                    if source
                        .to_string()
                        .to_ascii_lowercase()
                        .contains("credential") =>
                {
                    return true;
                }
                _ => {}
            }
        }
        if let Some(status) = failed_request_status(&e.to_string())
            && matches!(status, 401 | 403)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The HTTP status of a failed request's own text (`Server returned non-2xx status
/// code: 403 Forbidden: …`), read at its fixed place and nowhere else.
fn failed_request_status(text: &str) -> Option<u16> {
    let rest = text.strip_prefix(STATUS_PREFIX)?;
    rest.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a text and an optional cause, to build chains like delta-rs' own.
    #[derive(Debug)]
    struct Chain(
        String,
        Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    );

    impl std::fmt::Display for Chain {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Chain {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    fn chain(texts: &[&str]) -> Chain {
        texts
            .iter()
            .rev()
            .fold(None::<Chain>, |inner, text| {
                Some(Chain(
                    text.to_string(),
                    inner.map(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
                ))
            })
            .expect("one text at least")
    }

    #[test]
    fn xml_bodies_shrink_to_code_and_message() {
        let text = "Client error with status 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><AWSAccessKeyId>AKIAEXAMPLE</AWSAccessKeyId></Error>";
        let short = describe(&text);
        assert_eq!(
            short,
            "Client error with status 403 Forbidden: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records."
        );
        assert!(!short.contains("AKIAEXAMPLE"), "{short}");
    }

    #[test]
    fn plain_texts_pass_unchanged() {
        assert_eq!(describe(&"connection refused"), "connection refused");
        assert!(!is_refusal(&chain(&["connection refused"])));
    }

    #[test]
    fn a_refusal_is_told_by_its_status_never_by_digits_in_a_url_or_message() {
        // The typed variants object_store makes of a 403 and a 401.
        let denied = object_store::Error::PermissionDenied {
            path: "lake/orders/_delta_log".into(),
            source: Box::new(chain(&["no"])),
        };
        assert!(is_refusal(&denied));
        let unauthenticated = object_store::Error::Unauthenticated {
            path: "x".into(),
            source: Box::new(chain(&["no"])),
        };
        assert!(is_refusal(&unauthenticated));
        // A listing's failure, wrapped as object_store does (Generic over the request's
        // error): the status of the request decides.
        let listing = |status: &str| object_store::Error::Generic {
            store: "S3",
            source: Box::new(chain(&[
                "Error performing list request: Error performing GET http://h/b?list-type=2 in 2ms",
                &format!("{STATUS_PREFIX}{status}: <Error><Code>X</Code></Error>"),
            ])),
        };
        assert!(is_refusal(&listing("403 Forbidden")));
        assert!(is_refusal(&listing("401 Unauthorized")));
        assert!(!is_refusal(&listing("503 Service Unavailable")));
        assert!(!is_refusal(&listing("404 Not Found")));
        // 401 and 403 in a URL, a file name or a message: not a refusal.
        let in_url = object_store::Error::Generic {
            store: "S3",
            source: Box::new(chain(&[
                "Error performing PUT http://h/b/lake-403/orders/part-r401-x.parquet in 30s",
                "error sending request: connection reset; Forbidden words: 401 403 AccessDenied",
            ])),
        };
        assert!(!is_refusal(&in_url));
        let not_found = object_store::Error::NotFound {
            path: "lake/403/401.json".into(),
            source: Box::new(chain(&["Unauthorized 403"])),
        };
        assert!(!is_refusal(&not_found));
        // No credentials at all from the provider chain.
        let no_provider = object_store::Error::NotImplemented {
            operation: "credentials_provider".into(),
            implementer: "AWSForObjectStore".into(),
        };
        assert!(is_refusal(&no_provider));
    }
}
