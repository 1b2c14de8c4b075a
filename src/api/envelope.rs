//! Reading one HTTP answer: the `{ok, code, description, result}` envelope and its status.
//!
//! This is the single classifier of docs/data-contract.md §1.3–1.4: it turns status, headers and body into either
//! the `result` value or an [`AttemptError`] that says whether a retry can help. A 200
//! that carries `ok: false` is an error; a missing `ok` with a 2xx `code` and a `result`
//! is success, and a missing `ok` with an error `code` is that error.

use std::time::Duration;

use serde_json::Value;

use super::error::{ApiError, AttemptError};
use crate::bot_id::BotId;

/// Where an answer came from, for messages.
pub(crate) struct Context<'a> {
    pub endpoint: &'a str,
    pub bot_id: BotId,
}

/// Classifies one complete answer (status, `Retry-After` header, body bytes).
pub(crate) fn classify(
    ctx: &Context<'_>,
    status: u16,
    retry_after_header: Option<&str>,
    body: &[u8],
) -> Result<Value, AttemptError> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let description = parsed
        .as_ref()
        .and_then(|v| v.get("description"))
        .and_then(Value::as_str)
        .map(clean_description)
        .unwrap_or_else(|| body_excerpt(body));

    // The status the body claims may differ from HTTP's (ok:false under HTTP 200).
    let body_code = parsed
        .as_ref()
        .and_then(|v| v.get("code"))
        .and_then(value_as_u16);
    let body_ok = parsed
        .as_ref()
        .and_then(|v| v.get("ok"))
        .and_then(Value::as_bool);
    let effective = match (status, body_ok, body_code) {
        (200..=299, Some(false), Some(code)) if !(200..=299).contains(&code) => code,
        (200..=299, Some(false), _) => 500,
        // No `ok` at all (some documented answers omit it): the body's `code` decides, so
        // `{"code": 401, ...}` under HTTP 200 is a bad key at once, not a retried oddity.
        (200..=299, None, Some(code)) if is_error_code(code) => code,
        _ => status,
    };

    match effective {
        200..=299 => {}
        429 => {
            let retry_after = retry_after_header
                .and_then(parse_retry_after)
                .or_else(|| parsed.as_ref().and_then(body_retry_after));
            return Err(AttemptError::Transient {
                cause: format!("rate limited (HTTP 429): {description}"),
                retry_after,
                rate_limited: true,
            });
        }
        400 => {
            return Err(AttemptError::Fatal(ApiError::BadRequest {
                endpoint: ctx.endpoint.to_string(),
                description,
            }));
        }
        401 | 403 => {
            return Err(AttemptError::Fatal(ApiError::Unauthorized {
                bot_id: ctx.bot_id,
                endpoint: ctx.endpoint.to_string(),
                status: effective,
                description,
            }));
        }
        404 => {
            return Err(AttemptError::Fatal(ApiError::NotFound {
                bot_id: ctx.bot_id,
                endpoint: ctx.endpoint.to_string(),
                description,
            }));
        }
        408 | 500..=599 => {
            return Err(AttemptError::transient(format!(
                "server error (HTTP {effective}): {description}"
            )));
        }
        other => {
            return Err(AttemptError::Fatal(ApiError::Refused {
                endpoint: ctx.endpoint.to_string(),
                status: other,
                description,
            }));
        }
    }

    // A 2xx whose body is not a JSON envelope: truncated or garbled in transit.
    let Some(Value::Object(mut envelope)) = parsed else {
        return Err(AttemptError::transient(format!(
            "malformed JSON body (HTTP {status}, {} bytes)",
            body.len()
        )));
    };
    match envelope.remove("result") {
        Some(result) => Ok(result),
        // `ok: true` with no result (e.g. 204-like answers) reads as an empty result.
        None if body_ok == Some(true) => Ok(Value::Null),
        None => Err(AttemptError::transient(format!(
            "answer without `ok` or `result` (HTTP {status})"
        ))),
    }
}

/// An HTTP status that is not a success (a body's `code` outside 1xx-2xx).
fn is_error_code(code: u16) -> bool {
    (300..=599).contains(&code)
}

fn value_as_u16(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `Retry-After` as seconds (the HTTP-date form is treated as "unknown").
fn parse_retry_after(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

fn body_retry_after(v: &Value) -> Option<Duration> {
    let ra = v.get("parameters")?.get("retry_after")?;
    match ra {
        Value::Number(n) => parse_retry_after(&n.to_string()),
        Value::String(s) => parse_retry_after(s),
        _ => None,
    }
}

/// Characters of the API's `description` kept in messages, logs and `_sync_runs`.
pub(crate) const DESCRIPTION_CHARS: usize = 200;

/// The API's `description` as it may be printed or stored: control characters (line
/// breaks, terminal escapes) dropped, at most [`DESCRIPTION_CHARS`] characters.
pub(crate) fn clean_description(text: &str) -> String {
    let mut kept = text.chars().filter(|c| !c.is_control());
    let mut out: String = kept.by_ref().take(DESCRIPTION_CHARS).collect();
    if kept.next().is_some() {
        out.push('…');
    }
    out
}

/// The start of a non-JSON body, for messages (bounded, one line).
fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
    let line: String = text.chars().filter(|c| !c.is_control()).collect();
    if line.is_empty() {
        "empty body".to_string()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Context<'static> = Context {
        endpoint: "/orders",
        bot_id: BotId::constant(9),
    };

    fn ok(body: &str) -> Value {
        match classify(&CTX, 200, None, body.as_bytes()) {
            Ok(v) => v,
            Err(e) => panic!("expected success for {body}, got {e:?}"),
        }
    }

    #[test]
    fn descriptions_lose_control_characters_and_stop_at_200_characters() {
        let long = format!("bad\u{1b}[31m red\r\nline {}", "é".repeat(300));
        let body = serde_json::json!({"ok": false, "code": 400, "description": long}).to_string();
        let Err(AttemptError::Fatal(ApiError::BadRequest { description, .. })) =
            classify(&CTX, 400, None, body.as_bytes())
        else {
            panic!("a 400 is a bad request");
        };
        assert!(
            description.starts_with("bad[31m redline éé"),
            "{description}"
        );
        assert!(!description.chars().any(char::is_control));
        assert_eq!(description.chars().count(), DESCRIPTION_CHARS + 1);
        assert!(description.ends_with('…'));
        assert_eq!(clean_description("short"), "short");
    }

    #[test]
    fn success_with_and_without_ok() {
        assert_eq!(
            ok(r#"{"ok":true,"code":200,"result":[1]}"#),
            serde_json::json!([1])
        );
        assert_eq!(
            ok(r#"{"code":200,"result":{"a":1}}"#),
            serde_json::json!({"a":1})
        );
    }

    #[test]
    fn ok_false_under_200_is_an_error() {
        let err = classify(
            &CTX,
            200,
            None,
            br#"{"ok":false,"code":400,"description":"bad limit"}"#,
        );
        assert!(
            matches!(err, Err(AttemptError::Fatal(ApiError::BadRequest { description, .. })) if description == "bad limit")
        );
        let err = classify(&CTX, 200, None, br#"{"ok":false,"description":"oops"}"#);
        assert!(matches!(err, Err(AttemptError::Transient { .. })));
    }

    #[test]
    fn classifies_statuses() {
        let auth = classify(
            &CTX,
            401,
            None,
            br#"{"ok":false,"code":401,"description":"Unauthorized"}"#,
        );
        assert!(matches!(
            auth,
            Err(AttemptError::Fatal(ApiError::Unauthorized {
                bot_id,
                status: 401,
                ..
            })) if bot_id == CTX.bot_id
        ));
        let nf = classify(&CTX, 404, None, b"not here");
        assert!(matches!(
            nf,
            Err(AttemptError::Fatal(ApiError::NotFound { .. }))
        ));
        let busy = classify(&CTX, 503, None, b"<html>");
        assert!(matches!(
            busy,
            Err(AttemptError::Transient {
                rate_limited: false,
                ..
            })
        ));
    }

    /// A body without `ok` whose `code` is an error is classified by that code, exactly
    /// as the same code in the HTTP status would be (regression: a 200 carrying
    /// `{"code": 401}` was retried for two minutes, then reported as unavailable).
    #[test]
    fn an_error_code_without_ok_under_http_200_is_that_error() {
        for code in [400u16, 401, 403, 404, 405, 429, 500, 502, 503] {
            let body = format!(r#"{{"code":{code},"description":"from the body"}}"#);
            let under_200 = classify(&CTX, 200, None, body.as_bytes());
            let as_status = classify(&CTX, code, None, body.as_bytes());
            assert_eq!(
                format!("{under_200:?}"),
                format!("{as_status:?}"),
                "code {code} under HTTP 200 vs as the HTTP status"
            );
        }
        let auth = classify(
            &CTX,
            200,
            None,
            br#"{"code":"403","description":"Forbidden"}"#,
        );
        assert!(
            matches!(
                auth,
                Err(AttemptError::Fatal(ApiError::Unauthorized {
                    status: 403,
                    ..
                }))
            ),
            "{auth:?}"
        );
        let limited = classify(
            &CTX,
            200,
            None,
            br#"{"code":429,"parameters":{"retry_after":4}}"#,
        )
        .expect_err("429 in the body");
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(4)));
        // A success code without `ok` stays a success; `ok: true` wins over a stray code.
        assert_eq!(
            ok(r#"{"code":201,"result":{"a":1}}"#),
            serde_json::json!({"a":1})
        );
        assert_eq!(
            ok(r#"{"ok":true,"code":404,"result":[]}"#),
            serde_json::json!([])
        );
    }

    #[test]
    fn retry_after_from_header_or_body() {
        let e = classify(&CTX, 429, Some("3"), b"{}").expect_err("429");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = classify(
            &CTX,
            429,
            None,
            br#"{"ok":false,"code":429,"parameters":{"retry_after":2}}"#,
        )
        .expect_err("429");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        let e = classify(&CTX, 429, None, b"{}").expect_err("429");
        assert_eq!(e.retry_after(), None);
        assert!(e.is_retryable());
    }

    #[test]
    fn truncated_json_is_transient() {
        let e =
            classify(&CTX, 200, None, br#"{"ok":true,"result":[{"order_key":"A"#).expect_err("cut");
        assert!(e.is_retryable());
    }
}
