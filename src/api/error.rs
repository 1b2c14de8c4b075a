//! What can go wrong talking to the API, classified as docs/data-contract.md §1.4 asks.
//!
//! Messages name the endpoint and, where it matters, the bot; they never contain the key
//! (URLs are described with `***`, and transport errors are stripped of their URL).

use std::time::Duration;

use super::endpoint::ApiVersion;
use crate::bot_id::BotId;

/// An API failure that the caller has to act on (retries are already exhausted).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid base_url `{url}`: {reason}")]
    InvalidBaseUrl { url: String, reason: String },

    #[error("no API key for bot {bot_id}: set TGM_API_KEY or api_key_file")]
    MissingKey { bot_id: BotId },

    #[error("{endpoint} is not available in the {version} API")]
    NotInApiVersion {
        endpoint: String,
        version: ApiVersion,
    },

    /// 400: a parameter the API refused. A bug on our side: the stream fails.
    #[error("{endpoint} rejected the request (HTTP 400): {description}")]
    BadRequest {
        endpoint: String,
        description: String,
    },

    /// 401/403: the key is wrong for this bot. The run stops at once, without retries.
    #[error(
        "authentication failed for bot {bot_id} at {endpoint} (HTTP {status}): {description}; check the API key"
    )]
    Unauthorized {
        bot_id: BotId,
        endpoint: String,
        status: u16,
        description: String,
    },

    /// 404: unknown bot, method or order.
    #[error("{endpoint} not found for bot {bot_id} (HTTP 404): {description}")]
    NotFound {
        bot_id: BotId,
        endpoint: String,
        description: String,
    },

    /// Retries used up on transient failures (5xx, 429, timeouts, resets, bad bodies).
    #[error("{endpoint} unavailable after {attempts} attempts over {elapsed:?}: {cause}")]
    Unavailable {
        endpoint: String,
        attempts: u32,
        elapsed: Duration,
        cause: String,
    },

    /// A well-formed answer whose `result` is not what the endpoint documents.
    #[error("{endpoint} returned an unexpected result: {cause}")]
    UnexpectedResult { endpoint: String, cause: String },

    /// Any other non-retryable status with `ok: false`.
    #[error("{endpoint} failed (HTTP {status}): {description}")]
    Refused {
        endpoint: String,
        status: u16,
        description: String,
    },

    /// A body larger than `max_response_bytes`: not retried (the next answer would be
    /// as large).
    #[error("{endpoint} answered {size}, over the {limit}-byte cap (max_response_bytes)")]
    BodyTooLarge {
        endpoint: String,
        size: String,
        limit: u64,
    },

    /// The run's deadline (`run_deadline_secs`) passed before or during the request.
    #[error("{endpoint} not read: the run deadline (run_deadline_secs) passed")]
    DeadlinePassed { endpoint: String },

    #[error("could not set up the HTTP client: {0}")]
    Client(String),
}

impl ApiError {
    /// Authentication failures stop the whole run, not just one stream.
    pub(crate) fn is_auth(&self) -> bool {
        matches!(self, ApiError::Unauthorized { .. })
    }

    /// The run's deadline passed.
    pub(crate) fn is_deadline(&self) -> bool {
        matches!(self, ApiError::DeadlinePassed { .. })
    }

    /// The API could not be reached or kept failing.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(self, ApiError::Unavailable { .. })
    }
}

/// One failed attempt, before the retry policy has decided.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// Worth another try: 5xx, 429, timeout, reset, truncated or non-JSON body.
    Transient {
        cause: String,
        /// From a 429's `Retry-After` header or `parameters.retry_after` body field.
        retry_after: Option<Duration>,
        rate_limited: bool,
    },
    /// Final: retrying cannot help.
    Fatal(ApiError),
}

impl AttemptError {
    pub(crate) fn transient(cause: impl Into<String>) -> AttemptError {
        AttemptError::Transient {
            cause: cause.into(),
            retry_after: None,
            rate_limited: false,
        }
    }

    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, AttemptError::Transient { .. })
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Transient { retry_after, .. } => *retry_after,
            AttemptError::Fatal(_) => None,
        }
    }
}
