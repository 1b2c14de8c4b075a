//! The HTTP side: parses `/v1/bot{ID}/{KEY}/{method}` and legacy `/bot{ID}/{KEY}/{method}`
//! URLs, finds the bot, checks its key, injects faults, answers with the API envelope and
//! counts (each bot its own counts, faults and data).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::endpoints::Endpoint;
use super::faults::{self, Fault, json_response};
use super::glitches;
use super::params::{ApiError, Params};
use super::render::Render;
use super::state::{Control, RequestInfo, ResponseHook, SimState, unix_now};
use super::{FaultOptions, Quirks};

/// The bots one server serves, each with its own state.
pub(crate) struct SimBots {
    bots: Vec<Arc<SimState>>,
}

impl SimBots {
    pub(crate) fn new(bots: Vec<Arc<SimState>>) -> Arc<SimBots> {
        Arc::new(SimBots { bots })
    }

    /// The state that answers for the bot id in a URL. An id no bot has is answered by the
    /// first bot, whose check then refuses it (404, counted there, as with one bot).
    fn for_url(&self, bot: Option<&str>) -> Option<&Arc<SimState>> {
        let id = bot.and_then(|b| b.parse::<u64>().ok());
        self.bots
            .iter()
            .find(|s| Some(s.bot_id) == id)
            .or_else(|| self.bots.first())
    }
}

/// The simulator's router: every path goes through one handler.
pub(crate) fn router(bots: Arc<SimBots>) -> Router {
    Router::new().fallback(handle).with_state(bots)
}

/// An API URL taken apart.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    legacy: bool,
    bot: String,
    key: String,
    /// Everything after the key, percent-decoded.
    method: String,
}

/// `None` for paths that are not API URLs.
fn parse_target(path: &str) -> Option<Target> {
    let path = path.strip_prefix('/')?;
    let (legacy, rest) = match path.split_once('/') {
        Some((first, rest)) if first.eq_ignore_ascii_case("v1") => (false, rest),
        _ => (true, path),
    };
    let (bot, rest) = rest.split_once('/')?;
    let bot = bot
        .get(..3)
        .filter(|b| b.eq_ignore_ascii_case("bot"))
        .and(bot.get(3..))?;
    let (key, method) = rest.split_once('/').unwrap_or((rest, ""));
    Some(Target {
        legacy,
        bot: bot.to_string(),
        key: percent_decode(key),
        method: percent_decode(method),
    })
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds one request's handler time, less the latency it slept, to its bot's
/// [`super::RequestCounts::serving`] when the handler returns (whichever way).
struct ServingTimer<'a> {
    state: &'a SimState,
    started: Instant,
    slept: Duration,
}

impl Drop for ServingTimer<'_> {
    fn drop(&mut self) {
        let worked = self.started.elapsed().saturating_sub(self.slept);
        self.state.counts().serving += worked;
    }
}

/// Per-request facts the envelope and the hook need.
struct Exchange {
    info: RequestInfo,
    /// The envelope's `path`: `/orders?currency=usd`.
    envelope_path: String,
}

impl Exchange {
    /// The facts of one request, numbered in its bot's sequence.
    fn new(
        state: &SimState,
        method: &Method,
        uri: &Uri,
        target: &Target,
        endpoint: Option<&Endpoint>,
        query: &QueryPairs,
    ) -> Exchange {
        Exchange {
            info: RequestInfo {
                seq: state.next_seq(),
                http_method: method.as_str().to_string(),
                method_path: endpoint.map_or("unknown", |e| e.path()).to_string(),
                raw_method: target.method.clone(),
                query: query.clone().unwrap_or_default(),
                legacy: target.legacy,
                status: 200,
            },
            envelope_path: match uri.query() {
                Some(q) => format!("/{}?{q}", target.method),
                None => format!("/{}", target.method),
            },
        }
    }

    fn envelope(
        &self,
        status: StatusCode,
        outcome: Result<Value, ApiError>,
        omit_ok: bool,
    ) -> Value {
        let mut m = Map::new();
        let ok = outcome.is_ok();
        if !(ok && omit_ok) {
            m.insert("ok".into(), Value::from(ok));
        }
        m.insert("request_id".into(), Value::from(self.info.seq.to_string()));
        m.insert("method".into(), Value::from(self.info.http_method.as_str()));
        m.insert("path".into(), Value::from(self.envelope_path.as_str()));
        m.insert("code".into(), Value::from(status.as_u16()));
        match outcome {
            Ok(result) => {
                m.insert("result".into(), result);
            }
            Err(e) => {
                m.insert("description".into(), Value::from(e.description));
            }
        }
        Value::Object(m)
    }
}

/// A request's query pairs (names lower-cased), or why its query string does not parse.
type QueryPairs = Result<Vec<(String, String)>, ApiError>;

async fn handle(State(bots): State<Arc<SimBots>>, method: Method, uri: Uri) -> Response {
    let target = parse_target(uri.path());
    let (Some(target), Some(state)) = (
        target.as_ref(),
        bots.for_url(target.as_ref().map(|t| t.bot.as_str())),
    ) else {
        let body = json!({"ok": false, "code": 404, "description": "Not Found"});
        return json_response(StatusCode::NOT_FOUND, Bytes::from(body.to_string()));
    };
    let state = state.as_ref();
    let mut timer = ServingTimer {
        state,
        started: Instant::now(),
        slept: Duration::ZERO,
    };
    let endpoint = if target.legacy {
        Endpoint::legacy(&target.method)
    } else {
        Endpoint::v1(&target.method)
    };
    let query = query_pairs(&uri);
    let mut exchange = Exchange::new(state, &method, &uri, target, endpoint.as_ref(), &query);
    count_request(state, &exchange.info.method_path, target.legacy);
    let controls = Controls::of(state);
    let sleep_started = Instant::now();
    faults::delay(controls.faults.latency_ms).await;
    timer.slept = sleep_started.elapsed();
    let endpoint = if controls.quirks.payment_methods_snake && is_camel_payment_methods(target) {
        None
    } else {
        endpoint
    };

    if state.is_down() {
        // The bot's API is down (`SimHandle::set_down`): nothing behind it answers.
        state.counts().faults.server_errors += 1;
        return faults::server_error(StatusCode::SERVICE_UNAVAILABLE);
    }
    let (endpoint, query) = match check(state, target, endpoint, &method, query) {
        Ok((endpoint, query)) => (endpoint, glitches::query_as_served(&controls.faults, query)),
        Err(e) => {
            let status = e.status;
            let body = exchange.envelope(status, Err(e), controls.quirks.omit_ok);
            let hook = controls.hook.as_ref();
            return finish(state, &mut exchange, hook, status, body, Fault::None);
        }
    };

    if endpoint == Endpoint::Orders {
        state.apply_drift();
    }
    let fault = injected_fault(state);
    if let Some(response) = fault_response(fault, &controls.faults) {
        return response;
    }
    let (status, body) = answer(state, &exchange, endpoint, &query, &controls);
    finish(
        state,
        &mut exchange,
        controls.hook.as_ref(),
        status,
        body,
        fault,
    )
}

/// The query string's pairs, names lower-cased.
fn query_pairs(uri: &Uri) -> QueryPairs {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| {
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect::<Vec<_>>()
        })
        .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))
}

/// Counts the request in its bot's totals, by method path, and as legacy.
fn count_request(state: &SimState, method_path: &str, legacy: bool) {
    let mut counts = state.counts();
    counts.total += 1;
    *counts.by_path.entry(method_path.to_string()).or_default() += 1;
    if legacy {
        counts.legacy += 1;
    }
}

/// What the bot's control says for this request, copied once so the lock is not held.
struct Controls {
    faults: FaultOptions,
    quirks: Quirks,
    hook: Option<ResponseHook>,
}

impl Controls {
    fn of(state: &SimState) -> Controls {
        let control = state.control();
        Controls {
            faults: control.faults.clone(),
            quirks: control.quirks,
            hook: control.hook.clone(),
        }
    }
}

/// A v1 request for `paymentMethods` or `paymentMethods/report`, which the snake-case
/// quirk does not serve.
fn is_camel_payment_methods(target: &Target) -> bool {
    let path = target.method.trim_matches('/');
    !target.legacy
        && (path.eq_ignore_ascii_case("paymentMethods")
            || path.eq_ignore_ascii_case("paymentMethods/report"))
}

/// The endpoint's result (with the glitches the options ask for) in its envelope.
fn answer(
    state: &SimState,
    exchange: &Exchange,
    endpoint: Endpoint,
    query: &[(String, String)],
    controls: &Controls,
) -> (StatusCode, Value) {
    let now = unix_now();
    let render = Render {
        quirks: controls.quirks,
    };
    let outcome = {
        let data = state.read();
        endpoint
            .result(&data, &Params(query), render, now)
            .map(|mut result| {
                glitches::apply_to_result(&controls.faults, &endpoint, &data, &mut result);
                result
            })
    };
    let status = match &outcome {
        Ok(_) => StatusCode::OK,
        Err(e) => e.status,
    };
    let mut body = exchange.envelope(status, outcome, controls.quirks.omit_ok);
    glitches::apply_to_envelope(&controls.faults, &mut body);
    (status, body)
}

/// Bot, key, HTTP method (read-only: anything but GET is a 405), method name and query
/// syntax, in that order.
fn check(
    state: &SimState,
    target: &Target,
    endpoint: Option<Endpoint>,
    method: &Method,
    query: Result<Vec<(String, String)>, ApiError>,
) -> Result<(Endpoint, Vec<(String, String)>), ApiError> {
    if target.bot.parse::<u64>().ok() != Some(state.bot_id) {
        return Err(ApiError::not_found(format!(
            "no bot with id `{}`",
            target.bot
        )));
    }
    if target.key != state.api_key {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            description: "Unauthorized".to_string(),
        });
    }
    match state.key_refused_with() {
        Some(403) => {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                description: "Forbidden: the API key was revoked".to_string(),
            });
        }
        Some(_) => {
            return Err(ApiError {
                status: StatusCode::UNAUTHORIZED,
                description: "Unauthorized: the API key was revoked".to_string(),
            });
        }
        None => {}
    }
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            description: format!(
                "Method Not Allowed: the simulator is read-only, `{method}` is not served"
            ),
        });
    }
    let endpoint = endpoint
        .ok_or_else(|| ApiError::not_found(format!("unknown method `{}`", target.method)))?;
    Ok((endpoint, query?))
}

/// The rps cap, then the dice; counts what it injects.
fn injected_fault(state: &SimState) -> Fault {
    let mut control = state.control();
    let max_rps = control.faults.max_rps;
    let fault = match max_rps.map(|rps| control.limiter.acquire(rps, Instant::now())) {
        Some(Err(wait)) => Fault::OverRps(wait),
        _ => {
            let Control {
                faults, fault_rng, ..
            } = &mut *control;
            faults::roll(fault_rng, faults)
        }
    };
    drop(control);
    let mut counts = state.counts();
    let counter = match fault {
        Fault::None => return fault,
        Fault::OverRps(_) => &mut counts.faults.rps_limited,
        Fault::RateLimited => &mut counts.faults.rate_limited,
        Fault::ServerError(_) => &mut counts.faults.server_errors,
        Fault::OkFalse => &mut counts.faults.ok_false,
        Fault::Truncated => &mut counts.faults.truncated,
        Fault::Dropped => &mut counts.faults.dropped,
    };
    *counter += 1;
    fault
}

/// The answer for faults that replace the response outright.
fn fault_response(fault: Fault, options: &FaultOptions) -> Option<Response> {
    match fault {
        Fault::OverRps(wait) => Some(faults::rate_limited(Some(wait), false)),
        Fault::RateLimited => {
            let in_body = options.retry_after_in_body;
            let secs = if in_body {
                Some(options.retry_after_secs.unwrap_or(1))
            } else {
                options.retry_after_secs
            };
            Some(faults::rate_limited(secs, in_body))
        }
        Fault::ServerError(status) => Some(faults::server_error(status)),
        Fault::OkFalse => Some(faults::ok_false()),
        Fault::None | Fault::Truncated | Fault::Dropped => None,
    }
}

/// Runs the hook, serialises, and breaks the body if the dice said so.
fn finish(
    state: &SimState,
    exchange: &mut Exchange,
    hook: Option<&ResponseHook>,
    status: StatusCode,
    mut body: Value,
    fault: Fault,
) -> Response {
    if let Some(hook) = hook {
        exchange.info.status = status.as_u16();
        hook(&exchange.info, &mut body);
    }
    // `Display` for `Value` runs serde_json's own (optimised) serializer, even in debug builds.
    let bytes = Bytes::from(body.to_string());
    match fault {
        Fault::Truncated => faults::truncated(&mut state.control().fault_rng, bytes),
        Fault::Dropped => faults::dropped(&mut state.control().fault_rng, bytes),
        _ => json_response(status, bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_and_legacy_urls() {
        assert_eq!(
            parse_target("/v1/bot1347378140/sim-secret-key/Orders/cs_test_1"),
            Some(Target {
                legacy: false,
                bot: "1347378140".to_string(),
                key: "sim-secret-key".to_string(),
                method: "Orders/cs_test_1".to_string(),
            })
        );
        assert_eq!(
            parse_target("/bot1/k/getSubscribers"),
            Some(Target {
                legacy: true,
                bot: "1".to_string(),
                key: "k".to_string(),
                method: "getSubscribers".to_string(),
            })
        );
        assert_eq!(
            parse_target("/v1/bot1/k").map(|t| t.method),
            Some(String::new())
        );
        assert_eq!(parse_target("/"), None);
        assert_eq!(parse_target("/favicon.ico"), None);
        assert_eq!(parse_target("/v1/user1/k/orders"), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }
}
