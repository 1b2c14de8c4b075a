//! Where the lake lives: `lake_url` checked once (`s3://bucket/prefix` or `file:///path`),
//! each table's URL under it, and the storage options handed to delta-rs.
//!
//! Credentials never appear here: a URL with a user or password in it is refused, and the
//! S3 store reads the standard `AWS_*` variables and files itself (registered for
//! redaction by [`super::credentials`]).

use std::collections::HashMap;

use url::Url;

/// A checked `lake_url`, normalised to end in `/` so that table names join under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeUrl {
    root: Url,
}

/// Why a `lake_url` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LakeUrlError {
    #[error("not a URL: {0}")]
    NotAUrl(String),
    #[error("scheme `{0}` is not supported: use s3://bucket/prefix or file:///absolute/path")]
    Scheme(String),
    #[error("s3:// needs a bucket name (s3://bucket/prefix)")]
    NoBucket,
    #[error(
        "credentials do not belong in the URL: use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY \
         or the AWS credentials file"
    )]
    Credentials,
    #[error("a query or fragment has no meaning in the lake URL")]
    Extra,
    #[error("file:// needs an absolute path with no host (file:///path)")]
    FileHost,
}

impl LakeUrl {
    pub fn parse(text: &str) -> Result<LakeUrl, LakeUrlError> {
        let text = text.trim();
        let mut url = Url::parse(text).map_err(|e| LakeUrlError::NotAUrl(e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            // The configuration error quotes the value: hide what was typed there.
            crate::secret::register(url.username());
            if let Some(password) = url.password() {
                crate::secret::register(password);
            }
            return Err(LakeUrlError::Credentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(LakeUrlError::Extra);
        }
        match url.scheme() {
            "s3" | "s3a" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(LakeUrlError::NoBucket);
                }
            }
            "file" => {
                if url
                    .host_str()
                    .is_some_and(|h| !h.is_empty() && h != "localhost")
                {
                    return Err(LakeUrlError::FileHost);
                }
            }
            other => return Err(LakeUrlError::Scheme(other.to_string())),
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(LakeUrl { root: url })
    }

    /// The lake's root, ending in `/`.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// `file://` lakes live on this machine's file system.
    pub(crate) fn local_root(&self) -> Option<std::path::PathBuf> {
        (self.root.scheme() == "file")
            .then(|| self.root.to_file_path().ok())
            .flatten()
    }

    /// The Delta table of one synced table: `<root>/<table>/`.
    pub(crate) fn table_url(&self, table: &str) -> Url {
        let mut url = self.root.clone();
        let path = format!("{}{table}/", self.root.path());
        url.set_path(&path);
        url
    }

    /// The URL as `_lake_published` and messages show it.
    pub fn shown(&self) -> String {
        self.root.as_str().trim_end_matches('/').to_string()
    }
}

impl std::fmt::Display for LakeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

/// Storage options for delta-rs and object_store: bounded retries of 5xx answers, 429s,
/// timeouts and dropped connections (object_store's own retry layer); conditional puts
/// (`If-None-Match`) are object_store's default for S3, so Delta commits never overwrite
/// each other. An endpoint given as `http://…` (a local MinIO or test server) is allowed
/// plain HTTP without `AWS_ALLOW_HTTP` (see [`plain_http_endpoint`]).
pub(crate) fn storage_options() -> HashMap<String, String> {
    let mut options: HashMap<String, String> = [
        ("max_retries", "6"),
        ("retry_timeout", "120s"),
        ("backoff_config.init_backoff", "100ms"),
        ("backoff_config.max_backoff", "5s"),
        ("backoff_config.base", "2"),
        ("timeout", "60s"),
        ("connect_timeout", "10s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let var = |name: &str| std::env::var(name).ok();
    let endpoint = var("AWS_ENDPOINT_URL_S3")
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .or_else(|| var("AWS_ENDPOINT"));
    if plain_http_endpoint(endpoint.as_deref(), var("AWS_ALLOW_HTTP").as_deref()) {
        options.insert("allow_http".to_string(), "true".to_string());
    }
    options
}

/// Whether to allow plain HTTP: the endpoint the user set is `http://…` and they did not
/// decide otherwise with `AWS_ALLOW_HTTP`. Naming an `http://` endpoint is the choice;
/// refusing it with object_store's "URL scheme is not allowed" would only be a hurdle.
pub(crate) fn plain_http_endpoint(endpoint: Option<&str>, allow_http: Option<&str>) -> bool {
    allow_http.is_none()
        && endpoint.is_some_and(|e| e.trim().to_ascii_lowercase().starts_with("http://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_and_file_urls_are_normalised_and_tables_join_under_them() {
        let lake = LakeUrl::parse("s3://bucket/some/prefix").expect("s3");
        assert_eq!(
            lake.table_url("orders").as_str(),
            "s3://bucket/some/prefix/orders/"
        );
        assert_eq!(lake.shown(), "s3://bucket/some/prefix");
        let lake = LakeUrl::parse("s3://bucket").expect("bucket only");
        assert_eq!(lake.table_url("plans").as_str(), "s3://bucket/plans/");
        let lake = LakeUrl::parse("file:///tmp/lake/").expect("file");
        assert_eq!(lake.table_url("plans").as_str(), "file:///tmp/lake/plans/");
        assert_eq!(
            lake.local_root(),
            Some(std::path::PathBuf::from("/tmp/lake/"))
        );
    }

    #[test]
    fn an_http_endpoint_is_allowed_plain_http_unless_aws_allow_http_says_otherwise() {
        assert!(plain_http_endpoint(Some("http://127.0.0.1:9000"), None));
        assert!(plain_http_endpoint(Some(" HTTP://minio:9000 "), None));
        assert!(!plain_http_endpoint(Some("https://s3.example"), None));
        assert!(!plain_http_endpoint(None, None));
        assert!(!plain_http_endpoint(
            Some("http://127.0.0.1:9000"),
            Some("false")
        ));
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        assert_eq!(
            LakeUrl::parse("s3://AKIA:secret@bucket/p"),
            Err(LakeUrlError::Credentials)
        );
        assert_eq!(
            LakeUrl::parse("http://bucket/p"),
            Err(LakeUrlError::Scheme("http".into()))
        );
        assert_eq!(
            LakeUrl::parse("file://relative/path"),
            Err(LakeUrlError::FileHost)
        );
        assert_eq!(LakeUrl::parse("s3://b/p?x=1"), Err(LakeUrlError::Extra));
        assert!(matches!(
            LakeUrl::parse("/tmp/x"),
            Err(LakeUrlError::NotAUrl(_))
        ));
    }
}
