//! Fault injection for API routes: the per-request dice (429, 5xx, `ok:false` under 200,
//! truncated or dropped bodies), the requests-per-second cap, and the broken responses.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use fastrand::Rng;
use futures::StreamExt;
use serde_json::{Value, json};

use super::FaultOptions;

/// What the dice chose for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    None,
    /// Over the `max_rps` cap: wait this many seconds.
    OverRps(u64),
    RateLimited,
    ServerError(StatusCode),
    OkFalse,
    Truncated,
    Dropped,
}

/// Rolls the dice once: at most one fault per request, each with its configured share.
pub(super) fn roll(rng: &mut Rng, faults: &FaultOptions) -> Fault {
    let total = faults.share_429
        + faults.share_5xx
        + faults.share_ok_false_200
        + faults.share_truncated
        + faults.share_dropped;
    if total <= 0.0 {
        return Fault::None;
    }
    let mut x = rng.f64();
    let candidates = [
        (faults.share_429, Fault::RateLimited),
        (faults.share_5xx, Fault::ServerError(StatusCode::OK)),
        (faults.share_ok_false_200, Fault::OkFalse),
        (faults.share_truncated, Fault::Truncated),
        (faults.share_dropped, Fault::Dropped),
    ];
    for (share, fault) in candidates {
        if x < share {
            return match fault {
                Fault::ServerError(_) => {
                    let codes = [
                        StatusCode::INTERNAL_SERVER_ERROR,
                        StatusCode::BAD_GATEWAY,
                        StatusCode::SERVICE_UNAVAILABLE,
                    ];
                    Fault::ServerError(codes[rng.usize(..codes.len())])
                }
                other => other,
            };
        }
        x -= share;
    }
    Fault::None
}

/// A token bucket: `max_rps` tokens a second, bursts up to `max(max_rps, 1)`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    tokens: f64,
    last: Instant,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            tokens: f64::NAN,
            last: Instant::now(),
        }
    }
}

impl RateLimiter {
    /// Takes a token, or says how many whole seconds to wait (at least 1).
    pub(crate) fn acquire(&mut self, max_rps: f64, now: Instant) -> Result<(), u64> {
        let capacity = max_rps.max(1.0);
        if self.tokens.is_nan() {
            self.tokens = capacity;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * max_rps).min(capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / max_rps;
            Err((wait.ceil() as u64).max(1))
        }
    }
}

/// A JSON response with this status and body.
pub(super) fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn to_bytes(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// HTTP 429. `retry_after` goes in the `Retry-After` header, or in
/// `parameters.retry_after` when `in_body`; `None` sends neither.
pub(super) fn rate_limited(retry_after: Option<u64>, in_body: bool) -> Response {
    let mut body = json!({
        "ok": false,
        "code": 429,
        "description": "Too Many Requests: slow down",
    });
    if in_body && let Some(secs) = retry_after {
        body["parameters"] = json!({ "retry_after": secs });
        body["description"] = Value::from(format!("Too Many Requests: retry after {secs}"));
    }
    let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, to_bytes(&body));
    if !in_body && let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A 5xx with an error envelope.
pub(super) fn server_error(status: StatusCode) -> Response {
    let body = json!({
        "ok": false,
        "code": status.as_u16(),
        "description": status.canonical_reason().unwrap_or("Server Error"),
    });
    json_response(status, to_bytes(&body))
}

/// HTTP 200 whose envelope says `ok: false` (a retriable 503 inside).
pub(super) fn ok_false() -> Response {
    let body = json!({
        "ok": false,
        "code": 503,
        "description": "Service Unavailable: please retry later",
    });
    json_response(StatusCode::OK, to_bytes(&body))
}

/// HTTP 200 with the body cut strictly inside (never valid JSON); Content-Length
/// matches what is sent.
pub(super) fn truncated(rng: &mut Rng, body: Bytes) -> Response {
    let cut = cut_point(rng, body.len());
    json_response(StatusCode::OK, body.slice(..cut))
}

/// HTTP 200 announcing the full Content-Length, sending part of the body, then failing
/// the stream so the server drops the connection.
pub(super) fn dropped(rng: &mut Rng, body: Bytes) -> Response {
    let full = body.len();
    let cut = cut_point(rng, full);
    let head = body.slice(..cut);
    // The error comes a moment later, so the head is flushed to the client first.
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(head) }).chain(
        futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated dropped connection",
            ))
        }),
    );
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full));
    response
}

fn cut_point(rng: &mut Rng, len: usize) -> usize {
    if len < 2 { 0 } else { rng.usize(1..len) }
}

/// Sleeps for the configured latency.
pub(super) async fn delay(latency_ms: u64) {
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_shares_no_faults() {
        let mut rng = Rng::with_seed(1);
        let f = FaultOptions::default();
        assert!((0..1000).all(|_| roll(&mut rng, &f) == Fault::None));
    }

    #[test]
    fn shares_are_roughly_honoured() {
        let mut rng = Rng::with_seed(7);
        let f = FaultOptions {
            share_429: 0.1,
            share_5xx: 0.2,
            share_dropped: 0.1,
            ..FaultOptions::default()
        };
        let rolls: Vec<Fault> = (0..10_000).map(|_| roll(&mut rng, &f)).collect();
        let count = |pred: fn(&Fault) -> bool| rolls.iter().filter(|f| pred(f)).count();
        let limited = count(|f| *f == Fault::RateLimited);
        let server = count(|f| matches!(f, Fault::ServerError(_)));
        let dropped = count(|f| *f == Fault::Dropped);
        assert!((800..1200).contains(&limited), "{limited}");
        assert!((1700..2300).contains(&server), "{server}");
        assert!((800..1200).contains(&dropped), "{dropped}");
        assert_eq!(count(|f| *f == Fault::Truncated), 0);
    }

    #[test]
    fn every_share_one_always_faults() {
        let mut rng = Rng::with_seed(3);
        let f = FaultOptions {
            share_ok_false_200: 1.0,
            ..FaultOptions::default()
        };
        assert!((0..100).all(|_| roll(&mut rng, &f) == Fault::OkFalse));
    }

    #[test]
    fn rate_limiter_allows_a_burst_then_refills() {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now();
        assert!(limiter.acquire(2.0, t0).is_ok());
        assert!(limiter.acquire(2.0, t0).is_ok());
        assert_eq!(limiter.acquire(2.0, t0), Err(1));
        assert!(
            limiter
                .acquire(2.0, t0 + Duration::from_millis(600))
                .is_ok()
        );
        let mut slow = RateLimiter::default();
        assert!(slow.acquire(0.2, t0).is_ok());
        assert_eq!(slow.acquire(0.2, t0), Err(5));
    }

    #[test]
    fn truncated_bodies_are_proper_prefixes() {
        let mut rng = Rng::with_seed(5);
        let body = Bytes::from_static(br#"{"ok":true,"result":[1,2,3]}"#);
        for _ in 0..50 {
            let cut = cut_point(&mut rng, body.len());
            assert!(cut >= 1 && cut < body.len());
            assert!(serde_json::from_slice::<Value>(&body[..cut]).is_err());
        }
    }
}
