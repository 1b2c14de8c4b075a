//! An S3 fault proxy on 127.0.0.1: forwards HTTP/1.1 requests to the local S3 server and,
//! for a bounded, deterministic set of them (the n-th request matching a rule), answers
//! 500/503 itself, drops the connection before or after forwarding, holds the request
//! unanswered, or holds it until several have arrived (a gate that forces two writers to
//! commit at the same moment). Bytes are forwarded unchanged, Host header included, so
//! request signatures stay valid.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, Notify};
use tokio::task::JoinSet;

/// Which requests a rule looks at.
#[derive(Debug, Clone)]
pub enum Match {
    /// Any request.
    Any,
    /// A PUT of a Parquet data file (`….parquet`).
    DataPut,
    /// A PUT of a Delta commit, `…/_delta_log/<20 digits>.json`; with `Some(table)`, only
    /// that table's (path containing `/<table>/_delta_log/`).
    CommitPut(Option<&'static str>),
    /// A GET or HEAD (reads and listings).
    Read,
}

impl Match {
    fn matches(&self, method: &str, path: &str) -> bool {
        let path = path.split('?').next().unwrap_or(path);
        match self {
            Match::Any => true,
            Match::DataPut => method == "PUT" && path.ends_with(".parquet"),
            Match::CommitPut(table) => {
                method == "PUT"
                    && is_commit_path(path)
                    && table.is_none_or(|t| path.contains(&format!("/{t}/_delta_log/")))
            }
            Match::Read => method == "GET" || method == "HEAD",
        }
    }
}

impl Match {
    /// Whether a logged request is one this matcher picks.
    pub fn matches_seen(&self, seen: &Seen) -> bool {
        self.matches(&seen.method, &seen.path)
    }
}

/// `…/_delta_log/00000000000000000007.json`
pub fn is_commit_path(path: &str) -> bool {
    let Some((_, name)) = path.rsplit_once("/_delta_log/") else {
        return false;
    };
    name.strip_suffix(".json")
        .is_some_and(|v| v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit()))
}

/// What the proxy does to a request a rule picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers this status itself (500 InternalError, 503 SlowDown), request not forwarded.
    Status(u16),
    /// Reads the request, closes the connection, forwards nothing.
    DropBeforeForward,
    /// Forwards the request (it takes effect), then closes without the answer.
    DropAfterForward,
    /// Never answers nor forwards; the client waits until it gives up or is killed.
    Hold,
    /// Holds until `parties` requests reached this rule (or `Duration` passed), then
    /// forwards them all at once.
    Gate(usize, Duration),
}

/// Requests number `first ..= first + times - 1` among those matching `matcher` get `fault`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub matcher: Match,
    pub first: usize,
    pub times: usize,
    pub fault: Fault,
}

impl Rule {
    /// The `nth` (1-based) matching request, once.
    pub fn nth(matcher: Match, nth: usize, fault: Fault) -> Rule {
        Rule {
            matcher,
            first: nth,
            times: 1,
            fault,
        }
    }
}

/// What happened to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Forwarded(u16),
    Injected(Fault),
    /// The upstream connection failed.
    UpstreamError,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub outcome: Outcome,
}

struct RuleState {
    rule: Rule,
    seen: AtomicUsize,
    fired: AtomicUsize,
    barrier: Option<Barrier>,
    gate_timed_out: AtomicBool,
}

struct Shared {
    upstream: SocketAddr,
    rules: Vec<RuleState>,
    log: Mutex<Vec<Seen>>,
    held: AtomicUsize,
    held_changed: Notify,
}

pub struct S3Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl S3Proxy {
    /// Listens on 127.0.0.1 (a free port) in front of `upstream` (also loopback).
    pub async fn start(upstream: SocketAddr, rules: Vec<Rule>) -> S3Proxy {
        assert!(
            upstream.ip().is_loopback(),
            "the proxy forwards to loopback only"
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy listens on 127.0.0.1");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            rules: rules
                .into_iter()
                .map(|rule| RuleState {
                    barrier: match rule.fault {
                        Fault::Gate(parties, _) => Some(Barrier::new(parties)),
                        _ => None,
                    },
                    rule,
                    seen: AtomicUsize::new(0),
                    fired: AtomicUsize::new(0),
                    gate_timed_out: AtomicBool::new(false),
                })
                .collect(),
            log: Mutex::new(Vec::new()),
            held: AtomicUsize::new(0),
            held_changed: Notify::new(),
        });
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let accept = {
            let shared = Arc::clone(&shared);
            let tasks = Arc::clone(&tasks);
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let shared = Arc::clone(&shared);
                    tasks
                        .lock()
                        .expect("tasks")
                        .spawn(async move { serve(client, shared).await });
                }
            })
        };
        S3Proxy {
            addr,
            shared,
            tasks,
            accept,
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.log.lock().expect("log").clone()
    }

    /// How many requests rule `i` has acted on.
    pub fn fired(&self, i: usize) -> usize {
        self.shared.rules[i].fired.load(Ordering::SeqCst)
    }

    /// Whether rule `i` (a gate) let its requests go by time instead of by count.
    pub fn gate_timed_out(&self, i: usize) -> bool {
        self.shared.rules[i].gate_timed_out.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests are being held; false after `limit`.
    pub async fn wait_held(&self, n: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.shared.held_changed.notified();
            if self.shared.held.load(Ordering::SeqCst) >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.shared.held.load(Ordering::SeqCst) >= n;
            }
        }
    }
}

impl Drop for S3Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }
}

/// The rule (and its index) that picks this request, counting it for every rule it matches.
fn pick(shared: &Shared, method: &str, path: &str) -> Option<usize> {
    let mut picked = None;
    for (i, state) in shared.rules.iter().enumerate() {
        if !state.rule.matcher.matches(method, path) {
            continue;
        }
        let n = state.seen.fetch_add(1, Ordering::SeqCst) + 1;
        let rule = &state.rule;
        if picked.is_none() && n >= rule.first && n - rule.first < rule.times {
            state.fired.fetch_add(1, Ordering::SeqCst);
            picked = Some(i);
        }
    }
    picked
}

fn record(shared: &Shared, method: &str, path: &str, outcome: Outcome) {
    shared.log.lock().expect("log").push(Seen {
        method: method.to_string(),
        path: path.to_string(),
        outcome,
    });
}

/// One client connection: its requests in turn, over one upstream connection.
async fn serve(client: TcpStream, shared: Arc<Shared>) {
    let (client_read, mut client_write) = client.into_split();
    let mut client_read = BufReader::new(client_read);
    let mut upstream: Option<(
        BufReader<tokio::net::tcp::OwnedReadHalf>,
        tokio::net::tcp::OwnedWriteHalf,
    )> = None;
    loop {
        let Ok(Some(head)) = read_head(&mut client_read).await else {
            return;
        };
        let Some(request) = Head::parse(&head) else {
            return;
        };
        let Ok(body) = read_body(&mut client_read, &request, BodyOf::Request).await else {
            return;
        };
        let (method, path) = (request.method().to_string(), request.target().to_string());
        let fault = pick(&shared, &method, &path).map(|i| (i, shared.rules[i].rule.fault));
        match fault {
            Some((_, Fault::Status(code))) => {
                record(
                    &shared,
                    &method,
                    &path,
                    Outcome::Injected(Fault::Status(code)),
                );
                let _ = client_write.write_all(&error_response(code)).await;
                return;
            }
            Some((_, Fault::DropBeforeForward)) => {
                record(
                    &shared,
                    &method,
                    &path,
                    Outcome::Injected(Fault::DropBeforeForward),
                );
                return;
            }
            Some((_, Fault::Hold)) => {
                record(&shared, &method, &path, Outcome::Injected(Fault::Hold));
                shared.held.fetch_add(1, Ordering::SeqCst);
                shared.held_changed.notify_waiters();
                // Until the client goes away (killed) or the proxy is dropped (task aborted).
                let mut rest = Vec::new();
                let _ = client_read.read_to_end(&mut rest).await;
                return;
            }
            Some((i, Fault::Gate(_, limit))) => {
                let state = &shared.rules[i];
                shared.held.fetch_add(1, Ordering::SeqCst);
                shared.held_changed.notify_waiters();
                let barrier = state.barrier.as_ref().expect("a gate has a barrier");
                match tokio::time::timeout(limit, barrier.wait()).await {
                    // The leader goes first, the others 100 ms later: each was computed
                    // against the same log version, so they still conflict, but the
                    // server sees them one after the other (moto's put-if-absent check
                    // is not atomic across threads).
                    Ok(r) if !r.is_leader() => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(_) => {}
                    Err(_) => state.gate_timed_out.store(true, Ordering::SeqCst),
                }
            }
            Some((_, Fault::DropAfterForward)) | None => {}
        }
        // Forward, on this client's upstream connection (opened on first use).
        if upstream.is_none() {
            match TcpStream::connect(shared.upstream).await {
                Ok(s) => {
                    let (r, w) = s.into_split();
                    upstream = Some((BufReader::new(r), w));
                }
                Err(_) => {
                    record(&shared, &method, &path, Outcome::UpstreamError);
                    return;
                }
            }
        }
        let Some((up_read, up_write)) = upstream.as_mut() else {
            return;
        };
        let sent = async {
            up_write.write_all(&head).await?;
            up_write.write_all(&body).await?;
            up_write.flush().await
        }
        .await;
        let answer = match sent {
            Ok(()) => read_response(up_read, &request).await,
            Err(e) => Err(e),
        };
        let Ok((resp_head, resp, resp_body, close)) = answer else {
            record(&shared, &method, &path, Outcome::UpstreamError);
            return;
        };
        if fault.is_some_and(|(_, f)| f == Fault::DropAfterForward) {
            record(
                &shared,
                &method,
                &path,
                Outcome::Injected(Fault::DropAfterForward),
            );
            return;
        }
        record(&shared, &method, &path, Outcome::Forwarded(resp.status()));
        let written = async {
            client_write.write_all(&resp_head).await?;
            client_write.write_all(&resp_body).await?;
            client_write.flush().await
        }
        .await;
        if written.is_err() || close || request.wants_close() {
            return;
        }
    }
}

async fn read_response<R: AsyncBufRead + Unpin>(
    up: &mut R,
    request: &Head,
) -> std::io::Result<(Vec<u8>, Head, Vec<u8>, bool)> {
    let head = read_head(up)
        .await?
        .ok_or_else(|| std::io::Error::other("upstream closed"))?;
    let resp = Head::parse(&head).ok_or_else(|| std::io::Error::other("bad response head"))?;
    let kind = BodyOf::Response {
        head_request: request.method() == "HEAD",
    };
    let until_eof = resp.content_length().is_none() && !resp.chunked() && kind.has_body(&resp);
    let body = read_body(up, &resp, kind).await?;
    let close = until_eof || resp.wants_close();
    Ok((head, resp, body, close))
}

fn error_response(code: u16) -> Vec<u8> {
    let (reason, s3_code) = match code {
        503 => ("Service Unavailable", "SlowDown"),
        500 => ("Internal Server Error", "InternalError"),
        _ => ("Error", "InternalError"),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code>\
         <Message>injected by the test proxy</Message><RequestId>0</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A request or response head: first line and headers.
struct Head {
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: &[u8]) -> Option<Head> {
        let text = std::str::from_utf8(raw).ok()?;
        let mut lines = text.split("\r\n");
        let first = lines.next()?.to_string();
        let headers = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Some(Head { first, headers })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn method(&self) -> &str {
        self.first.split(' ').next().unwrap_or("")
    }
    fn target(&self) -> &str {
        self.first.split(' ').nth(1).unwrap_or("")
    }
    fn status(&self) -> u16 {
        self.first
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
    fn content_length(&self) -> Option<usize> {
        self.header("content-length")?.parse().ok()
    }
    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }
    fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

#[derive(Clone, Copy)]
enum BodyOf {
    Request,
    Response { head_request: bool },
}

impl BodyOf {
    fn has_body(self, head: &Head) -> bool {
        match self {
            BodyOf::Request => true,
            BodyOf::Response { head_request } => {
                let status = head.status();
                !head_request && status >= 200 && status != 204 && status != 304
            }
        }
    }
}

/// The head up to and including the blank line; `None` at end of stream before any byte.
async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut head).await?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(std::io::Error::other("stream ended inside a head"))
            };
        }
        if head.ends_with(b"\r\n\r\n") || head == b"\r\n" {
            return Ok(Some(head));
        }
        if head.len() > 1 << 20 {
            return Err(std::io::Error::other("head too long"));
        }
    }
}

/// The body's raw bytes (chunk framing kept, so it is forwarded as it came).
async fn read_body<R: AsyncBufRead + Unpin>(
    r: &mut R,
    head: &Head,
    kind: BodyOf,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if !kind.has_body(head) {
        return Ok(body);
    }
    if head.chunked() {
        loop {
            let mut line = Vec::new();
            r.read_until(b'\n', &mut line).await?;
            let size_text = String::from_utf8_lossy(&line);
            let size =
                usize::from_str_radix(size_text.trim().split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
            body.extend_from_slice(&line);
            if size == 0 {
                loop {
                    let mut trailer = Vec::new();
                    let n = r.read_until(b'\n', &mut trailer).await?;
                    body.extend_from_slice(&trailer);
                    if n == 0 || trailer == b"\r\n" {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            r.read_exact(&mut body[start..]).await?;
        }
    }
    match (head.content_length(), kind) {
        (Some(n), _) => {
            body.resize(n, 0);
            r.read_exact(&mut body).await?;
        }
        (None, BodyOf::Request) => {}
        (None, BodyOf::Response { .. }) => {
            r.read_to_end(&mut body).await?;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_paths_are_told_from_other_log_files() {
        assert!(is_commit_path(
            "/b/p/orders/_delta_log/00000000000000000003.json"
        ));
        assert!(!is_commit_path("/b/p/orders/_delta_log/_last_checkpoint"));
        assert!(!is_commit_path(
            "/b/p/orders/_delta_log/00000000000000000010.checkpoint.parquet"
        ));
        assert!(!is_commit_path(
            "/b/p/orders/_delta_log/_commit_ab.json.tmp"
        ));
        assert!(
            Match::CommitPut(Some("orders"))
                .matches("PUT", "/b/orders/_delta_log/00000000000000000000.json?x=1")
        );
        assert!(
            !Match::CommitPut(Some("members"))
                .matches("PUT", "/b/orders/_delta_log/00000000000000000000.json")
        );
    }
}
