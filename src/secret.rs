//! The API key, and the one place that keeps it out of every output.
//!
//! The TGmembership API puts the key in the URL path, so any logged URL, HTTP error or
//! panic message could leak it. `ApiKey` never formats its value, and every text that
//! leaves the process (logs, errors, tables, metrics) can be passed through
//! [`redact`], which replaces each key this process has loaded with `***`.

use std::fmt;
use std::sync::{OnceLock, RwLock};

/// What a key is replaced by wherever it would be shown.
pub(crate) const REDACTED: &str = "***";

/// An API key. Its `Debug` and `Display` print `***`; only [`ApiKey::expose`] gives the value.
///
/// ```
/// use tgm_sync::secret::{ApiKey, redact};
///
/// let key = ApiKey::new("doc-example-key-42");
/// assert_eq!(format!("{key} {key:?}"), "*** ApiKey(***)");
/// assert_eq!(redact("GET /v1/bot1/doc-example-key-42/orders"), "GET /v1/bot1/***/orders");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key and registers it for [`redact`].
    pub fn new(key: impl Into<String>) -> ApiKey {
        let key = key.into().trim().to_string();
        register(&key);
        ApiKey(key)
    }

    /// The key itself, for building a request URL and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({REDACTED})")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

fn registry() -> &'static RwLock<Vec<String>> {
    static KEYS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    KEYS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remembers a secret so that [`redact`] hides it. Keys shorter than 4 characters are not
/// registered: redacting them would mangle ordinary text and they are not real keys.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut keys = match registry().write() {
        Ok(keys) => keys,
        Err(poisoned) => poisoned.into_inner(),
    };
    for form in encoded_forms(secret) {
        if !keys.contains(&form) {
            keys.push(form);
        }
    }
    // Longest first, so a key that contains another is replaced whole.
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// The key as is, escaped inside a JSON string (JSON logs, raw rows in `_rejected`) and
/// percent-encoded in a URL path: a key with a quote, a space, `+`, `/`, `=`, `%` or `:`
/// differs in each. The path segment is registered as the API client sends it
/// ([`encode_path_segment`]), with upper- and lower-case hex digits (a server or proxy
/// may echo either), and as the `url` crate would normalise the key in a path.
fn encoded_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json.trim_matches('"').to_string());
    }
    let segment = encode_path_segment(secret);
    forms.push(lower_case_escapes(&segment));
    forms.push(segment);
    if let Ok(url) = reqwest::Url::parse(&format!("http://localhost/{secret}")) {
        forms.push(url.path().trim_start_matches('/').to_string());
    }
    forms.retain(|f| f.len() >= 4);
    let mut unique: Vec<String> = Vec::with_capacity(forms.len());
    for form in forms {
        if !unique.contains(&form) {
            unique.push(form);
        }
    }
    unique
}

/// Percent-encodes one URL path segment: every byte but `A-Z a-z 0-9 - _ . ~` becomes
/// `%XX` (upper-case hex). The API client builds the key's segment with it, so the form
/// registered for redaction is exactly the one sent.
pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%2F` → `%2f`: the hex digits of every escape in lower case, the rest unchanged.
fn lower_case_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            if c == '%' {
                hex_left = 2;
            }
            out.push(c);
        }
    }
    out
}

/// `text` with every registered key replaced by `***`.
pub fn redact(text: &str) -> String {
    let keys = match registry().read() {
        Ok(keys) => keys,
        Err(poisoned) => poisoned.into_inner(),
    };
    let mut out = text.to_string();
    for key in keys.iter() {
        if out.contains(key.as_str()) {
            out = out.replace(key.as_str(), REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_never_formats_its_value() {
        let key = ApiKey::new("unit-test-secret-1234");
        assert_eq!(format!("{key}"), "***");
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
        assert_eq!(key.expose(), "unit-test-secret-1234");
    }

    #[test]
    fn redact_replaces_every_registered_key() {
        let _key = ApiKey::new("another-secret-5678");
        let text = "GET https://h/v1/bot1/another-secret-5678/orders failed (another-secret-5678)";
        assert_eq!(
            redact(text),
            "GET https://h/v1/bot1/***/orders failed (***)"
        );
        assert_eq!(redact("nothing to hide"), "nothing to hide");
    }

    #[test]
    fn redact_knows_the_json_and_url_forms_of_a_key() {
        let _key = ApiKey::new("odd \"key\" 42");
        assert_eq!(redact(r#"{"raw":"odd \"key\" 42"}"#), r#"{"raw":"***"}"#);
        assert_eq!(redact("/bot1/odd%20%22key%22%2042/x"), "/bot1/***/x");
        assert_eq!(redact("odd \"key\" 42"), "***");
    }

    #[test]
    fn redact_knows_the_path_segment_the_client_sends_for_a_key_with_url_characters() {
        let key = "Ab+cd/ef=gh%ij:kl";
        let _key = ApiKey::new(key);
        // As the API client encodes it (`encode_path_segment`), and with lower-case hex.
        assert_eq!(encode_path_segment(key), "Ab%2Bcd%2Fef%3Dgh%25ij%3Akl");
        assert_eq!(
            redact("GET /v1/bot1/Ab%2Bcd%2Fef%3Dgh%25ij%3Akl/orders"),
            "GET /v1/bot1/***/orders"
        );
        assert_eq!(
            redact("echo: /v1/bot1/Ab%2bcd%2fef%3dgh%25ij%3akl/orders"),
            "echo: /v1/bot1/***/orders"
        );
        assert_eq!(redact(&format!("raw {key} raw")), "raw *** raw");
    }
}
