//! The HTTP client: one `GET` with the retry policy, the pacer and the classifier applied.
//!
//! `ApiClient` is cheap to clone. [`ApiClient::for_stream`] gives a clone that counts its
//! own requests and retries, so each stream's figures can be recorded in `_sync_runs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::Retryable;
use serde_json::Value;
use tracing::{debug, warn};

use super::endpoint::{ApiVersion, Endpoint, Method};
use super::envelope::{Context, classify};
use super::error::{ApiError, AttemptError};
use super::models::RevenueReport;
use super::retry::{Pacer, RetryPolicy};
use crate::bot_id::BotId;
use crate::currency::Currency;
use crate::secret::{ApiKey, redact};

/// Everything needed to talk to one bot's API.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub base_url: String,
    pub bot_id: BotId,
    pub api_key: ApiKey,
    pub api_version: ApiVersion,
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Polite cap on requests per second for this bot; `None` for no cap.
    pub max_rps: Option<f64>,
    /// One answer's body, at most, in bytes.
    pub max_response_bytes: u64,
    /// The run's deadline: past it, no request starts and one in flight is abandoned.
    pub deadline: Option<tokio::time::Instant>,
}

/// The default [`ClientSettings::max_response_bytes`]: 64 MiB.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

impl ClientSettings {
    pub fn new(base_url: impl Into<String>, bot_id: BotId, api_key: ApiKey) -> ClientSettings {
        ClientSettings {
            base_url: base_url.into(),
            bot_id,
            api_key,
            api_version: ApiVersion::V1,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_rps: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            deadline: None,
        }
    }
}

/// Requests and retries made, shared by the clones that count together.
#[derive(Debug, Default)]
pub struct RequestStats {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
}

impl RequestStats {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    endpoint: Endpoint,
    retry: RetryPolicy,
    pacer: Pacer,
    total: RequestStats,
    max_response_bytes: u64,
    deadline: Option<tokio::time::Instant>,
    /// `/paymentMethods` answered 404 and `/payment_methods` did not: ask that from now on.
    payment_methods_snake: AtomicBool,
    /// The same for `/paymentMethods/report` and `/payment_methods/report`.
    payment_methods_report_snake: AtomicBool,
}

/// A read-only client for one bot.
#[derive(Debug, Clone)]
pub struct ApiClient {
    shared: Arc<Shared>,
    /// Counts for one stream (or the whole client when not split).
    stats: Arc<RequestStats>,
    stream: &'static str,
}

impl ApiClient {
    pub fn new(settings: ClientSettings) -> Result<ApiClient, ApiError> {
        let endpoint = Endpoint::new(
            &settings.base_url,
            settings.bot_id,
            settings.api_key,
            settings.api_version,
        )?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("tgm-sync/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the key in its Location; the API has no reason to send one.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ApiError::Client(redact(&e.without_url().to_string())))?;
        Ok(ApiClient {
            shared: Arc::new(Shared {
                http,
                endpoint,
                retry: settings.retry,
                pacer: Pacer::new(settings.max_rps),
                total: RequestStats::default(),
                max_response_bytes: settings.max_response_bytes,
                deadline: settings.deadline,
                payment_methods_snake: AtomicBool::new(false),
                payment_methods_report_snake: AtomicBool::new(false),
            }),
            stats: Arc::new(RequestStats::default()),
            stream: "",
        })
    }

    /// A clone that counts its requests separately (and in the client's total).
    pub fn for_stream(&self, stream: &'static str) -> ApiClient {
        ApiClient {
            shared: Arc::clone(&self.shared),
            stats: Arc::new(RequestStats::default()),
            stream,
        }
    }

    pub fn bot_id(&self) -> BotId {
        self.shared.endpoint.bot_id()
    }

    pub fn api_version(&self) -> ApiVersion {
        self.shared.endpoint.version()
    }

    /// This clone's counts.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// Counts over every clone of this client.
    pub(crate) fn total_stats(&self) -> &RequestStats {
        &self.shared.total
    }

    /// `GET` one method and return its `result`, retrying transient failures. Past the
    /// run's deadline, no request starts and one in flight is abandoned.
    pub async fn get(&self, method: &Method, query: &[(&str, String)]) -> Result<Value, ApiError> {
        let Some(deadline) = self.shared.deadline else {
            return self.get_routed(method, query).await;
        };
        let passed = || ApiError::DeadlinePassed {
            endpoint: method.label(),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(passed());
        }
        tokio::time::timeout_at(deadline, self.get_routed(method, query))
            .await
            .unwrap_or_else(|_| Err(passed()))
    }

    /// The API text's headings say `/paymentMethods` and `/paymentMethods/report`, and
    /// their samples' `path` says `/payment_methods` and `/payment_methods/report`: on a
    /// 404 from the first spelling, the second is tried once, and when it answers, this
    /// client (and its clones) ask it from then on. Each endpoint learns on its own.
    async fn get_routed(
        &self,
        method: &Method,
        query: &[(&str, String)],
    ) -> Result<Value, ApiError> {
        let (snake, learned) = match method {
            Method::PaymentMethods => (
                Method::PaymentMethodsSnake,
                &self.shared.payment_methods_snake,
            ),
            Method::PaymentMethodsReport => (
                Method::PaymentMethodsReportSnake,
                &self.shared.payment_methods_report_snake,
            ),
            _ => return self.get_retried(method, query).await,
        };
        if learned.load(Ordering::Relaxed) {
            return self.get_retried(&snake, query).await;
        }
        match self.get_retried(method, query).await {
            Err(not_found @ ApiError::NotFound { .. }) => {
                match self.get_retried(&snake, query).await {
                    Ok(value) => {
                        learned.store(true, Ordering::Relaxed);
                        warn!(
                            "{method} answered 404 and {snake} answered: asking {snake} from now on"
                        );
                        Ok(value)
                    }
                    Err(_) => Err(not_found),
                }
            }
            other => other,
        }
    }

    async fn get_retried(
        &self,
        method: &Method,
        query: &[(&str, String)],
    ) -> Result<Value, ApiError> {
        let url = self.shared.endpoint.url(method)?;
        let label = method.label();
        let started = Instant::now();
        let attempts = std::sync::atomic::AtomicU32::new(0);
        // Time spent waiting to retry, in microseconds: the backoff's sleeps and the
        // pacer's waits before each retry (after 429s the pacer can hold a request for
        // seconds a time). Both count against `max_elapsed`.
        let waited = AtomicU64::new(0);
        let budget = self.shared.retry.max_elapsed;
        let attempt = || {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(url.clone(), &label, query, n, &waited)
        };
        let outcome = attempt
            .retry(self.shared.retry.backoff())
            .when(AttemptError::is_retryable)
            .adjust(|err: &AttemptError, planned: Option<Duration>| {
                // A Retry-After is honoured as long as the backoff still allows a retry;
                // either wait must fit what is left of the budget.
                let planned = planned?;
                let wait = match err.retry_after() {
                    Some(asked) if asked <= budget => asked,
                    _ => planned,
                };
                // The retry also waits for its pacer slot, if that comes later.
                let next = wait.max(self.shared.pacer.pending_wait());
                let spent = Duration::from_micros(waited.load(Ordering::Relaxed));
                (spent + next <= budget).then_some(wait)
            })
            .notify(|err: &AttemptError, wait: Duration| {
                waited.fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
                self.count_retry();
                if let AttemptError::Transient {
                    cause,
                    rate_limited,
                    ..
                } = err
                {
                    if *rate_limited {
                        self.shared.pacer.slow_down();
                        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                        self.shared
                            .total
                            .rate_limited
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    warn!(
                        stream = self.stream,
                        endpoint = %label,
                        attempt = attempts.load(Ordering::Relaxed),
                        wait_ms = wait.as_millis() as u64,
                        "retrying: {}",
                        redact(cause)
                    );
                }
            })
            .await;
        let attempts = attempts.into_inner();
        match outcome {
            Ok(value) => {
                self.shared.pacer.recover();
                Ok(value)
            }
            Err(AttemptError::Fatal(err)) => Err(err),
            Err(AttemptError::Transient { cause, .. }) => Err(ApiError::Unavailable {
                endpoint: label.clone(),
                attempts,
                elapsed: started.elapsed(),
                cause: redact(&cause),
            }),
        }
    }

    /// `GET` a method whose `result` is a list (`null` reads as an empty one).
    pub async fn get_list(
        &self,
        method: &Method,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, ApiError> {
        match self.get(method, query).await? {
            Value::Array(rows) => Ok(rows),
            Value::Null => Ok(Vec::new()),
            other => Err(ApiError::UnexpectedResult {
                endpoint: method.label(),
                cause: format!("expected a list, got {}", json_kind(&other)),
            }),
        }
    }

    /// `GET /revenue` for `from <= order_date < to`, in `currency` (the bot's preferred
    /// one when `None`).
    pub async fn revenue(
        &self,
        from: i64,
        to: i64,
        currency: Option<Currency>,
    ) -> Result<RevenueReport, ApiError> {
        let mut query = vec![("from", from.to_string()), ("to", to.to_string())];
        if let Some(c) = currency {
            query.push(("currency", c.query_value()));
        }
        let value = self.get(&Method::Revenue, &query).await?;
        RevenueReport::from_json(value).map_err(|e| ApiError::UnexpectedResult {
            endpoint: Method::Revenue.label(),
            cause: e.to_string(),
        })
    }

    fn count_retry(&self) {
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        self.shared.total.retries.fetch_add(1, Ordering::Relaxed);
    }

    async fn attempt(
        &self,
        url: reqwest::Url,
        label: &str,
        query: &[(&str, String)],
        attempt: u32,
        waited: &AtomicU64,
    ) -> Result<Value, AttemptError> {
        let paced = self.shared.pacer.wait_turn().await;
        if attempt > 1 {
            waited.fetch_add(paced.as_micros() as u64, Ordering::Relaxed);
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.shared.total.requests.fetch_add(1, Ordering::Relaxed);
        debug!(stream = self.stream, endpoint = label, attempt, "request");
        let transport = |e: reqwest::Error| {
            // `without_url` drops the URL, and with it the key, from the message.
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else if e.is_body() || e.is_decode() {
                "connection broke while reading the body"
            } else {
                "request failed"
            };
            AttemptError::transient(format!(
                "{kind}: {}",
                redact(&error_chain(&e.without_url()))
            ))
        };
        let response = self
            .shared
            .http
            .get(url)
            .query(query)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = self.read_body(response, label).await.map_err(|e| match e {
            BodyError::Transport(e) => transport(e),
            BodyError::TooLarge(e) => AttemptError::Fatal(e),
        })?;
        let ctx = Context {
            endpoint: label,
            bot_id: self.bot_id(),
        };
        classify(&ctx, status, retry_after.as_deref(), &body)
    }
}

/// Why a body could not be read.
enum BodyError {
    Transport(reqwest::Error),
    TooLarge(ApiError),
}

impl ApiClient {
    /// The body, chunk by chunk, up to `max_response_bytes`: a larger one (announced or
    /// found while reading) is an error naming the endpoint and the size, and is never
    /// held whole in memory.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        label: &str,
    ) -> Result<Vec<u8>, BodyError> {
        let limit = self.shared.max_response_bytes;
        let too_large = |size: String| {
            BodyError::TooLarge(ApiError::BodyTooLarge {
                endpoint: label.to_string(),
                size,
                limit,
            })
        };
        if let Some(announced) = response.content_length()
            && announced > limit
        {
            return Err(too_large(format!("{announced} bytes")));
        }
        let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large(format!(
                    "more than {} bytes",
                    body.len() + chunk.len()
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// `"an object"`, `"a string"`: for messages about unexpected shapes.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// An error and its sources on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
