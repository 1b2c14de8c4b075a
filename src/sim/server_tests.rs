//! End-to-end checks of the simulator over real HTTP on 127.0.0.1, with a minimal raw
//! HTTP/1.1 client so broken bodies (truncated, dropped) can be seen byte for byte.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::reports;
use super::{FaultOptions, Quirks, SimOptions, SimServer};
use crate::currency::Currency;

/// A raw answer: status, headers (lower-case names), body bytes as received.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

async fn request(server: &SimServer, method: &str, path: &str) -> Raw {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    // A dropped connection may end in a reset: keep what arrived.
    let _ = stream.read_to_end(&mut buf).await;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header terminator");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    }
}

fn api(method: &str) -> String {
    format!("/v1/bot1347378140/sim-secret-key/{method}")
}

async fn get(server: &SimServer, method: &str) -> Raw {
    request(server, "GET", &api(method)).await
}

async fn start() -> SimServer {
    SimServer::start(SimOptions::default()).await.unwrap()
}

#[tokio::test]
async fn orders_pages_follow_the_snapshot() {
    let server = start().await;
    let data = server.handle.data();
    let first = get(&server, "Orders").await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-length"),
        Some(first.body.len().to_string().as_str())
    );
    let v = first.json();
    assert_eq!(v["ok"], json!(true));
    assert_eq!(v["code"], json!(200));
    assert_eq!(v["method"], json!("GET"));
    assert_eq!(v["path"], json!("/Orders"));
    let rows = v["result"].as_array().unwrap();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[0]["order_key"], json!(data.orders[0].order_key));
    let page = get(&server, "orders?limit=7&offset=495").await.json();
    let keys: Vec<&str> = page["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["order_key"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = data
        .orders
        .range(495..)
        .map(|o| o.order_key.as_str())
        .collect();
    assert_eq!(keys, want);
    let past = get(&server, "orders?offset=5000").await.json();
    assert_eq!(past["result"], json!([]));
    let usd = get(&server, "orders?limit=1&currency=usd").await.json();
    assert_eq!(usd["result"][0]["currency"], json!("USD"));
    let bad = get(&server, "orders?limit=101").await;
    assert_eq!(bad.status, 400);
    let desc = bad.json()["description"].as_str().unwrap().to_string();
    assert!(desc.contains("`limit`"), "{desc}");
    assert_eq!(get(&server, "orders?currency=xyz").await.status, 400);
    let completed = get(&server, "orders?order_status=completed&limit=100")
        .await
        .json();
    assert!(
        completed["result"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["order_status"] == json!("COMPLETED"))
    );
    let key = &data.orders[3].order_key;
    let one = get(&server, &format!("orders/{key}")).await.json();
    assert_eq!(one["result"]["order_key"], json!(key));
    assert_eq!(
        one["result"]["payment_gateway"],
        json!(data.orders[3].gateway.code)
    );
    assert_eq!(get(&server, "orders/nope").await.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn auth_methods_and_legacy_urls() {
    let server = start().await;
    let wrong_key = request(&server, "GET", "/v1/bot1347378140/wrong/orders").await;
    assert_eq!(wrong_key.status, 401);
    assert_eq!(wrong_key.json()["ok"], json!(false));
    assert_eq!(wrong_key.json()["description"], json!("Unauthorized"));
    let wrong_bot = request(&server, "GET", "/v1/bot42/sim-secret-key/orders").await;
    assert_eq!(wrong_bot.status, 404);
    assert_eq!(get(&server, "nosuchmethod").await.status, 404);
    assert_eq!(request(&server, "POST", &api("orders")).await.status, 405);
    assert_eq!(
        request(&server, "DELETE", &api("webhook")).await.status,
        405
    );
    let legacy = request(
        &server,
        "GET",
        "/bot1347378140/sim-secret-key/getSubscribers?limit=1000",
    )
    .await
    .json();
    assert_eq!(legacy["result"].as_array().unwrap().len(), 200);
    let users = request(&server, "GET", "/bot1347378140/sim-secret-key/countUsers")
        .await
        .json();
    let counts = reports::users_count(&server.handle.data(), super::state::unix_now());
    assert_eq!(users["result"]["members"], json!(counts.members));
    assert_eq!(users["result"]["users"], json!(counts.users));
    let coupons = get(&server, "coupons?limit=1&offset=3").await.json();
    assert_eq!(coupons["result"].as_array().unwrap().len(), 4);
    let methods = get(&server, "paymentMethods").await.json();
    assert!(
        methods["result"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["name"] != json!("authorizenet"))
    );
    let counted = server.handle.requests();
    assert_eq!(counted.get("members"), 1);
    assert_eq!(counted.get("users/count"), 1);
    assert_eq!(counted.legacy, 2);
    assert_eq!(counted.total, 9);
    server.shutdown().await;
}

#[tokio::test]
async fn reports_match_the_pure_functions() {
    let server = SimServer::start(SimOptions {
        preferred_currency: Some(Currency::Usd),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let data = server.handle.data();
    let now = super::state::unix_now();
    let v = get(&server, &format!("revenue?from=0&to={}", now + 10))
        .await
        .json();
    let want = reports::revenue(
        &data,
        0,
        now + 10,
        &reports::Pricing::new(Currency::Usd, super::rates::Arithmetic::Quoted),
    );
    assert_eq!(v["result"]["currency"], json!("USD"));
    assert_eq!(v["result"]["sales"], json!(want.sales));
    assert_eq!(
        v["result"]["revenue"],
        json!(super::format::decimal_string(want.revenue))
    );
    assert_eq!(get(&server, "revenue?from=0").await.status, 400);
    let months = get(&server, "orders/count?interval_count=12&currency=EUR")
        .await
        .json();
    let rows = months["result"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0]["currency"], json!("EUR"));
    let plans = get(&server, "plans/report?currency=gbp").await.json();
    assert!(!plans["result"].as_array().unwrap().is_empty());
    let gateways = get(&server, "paymentMethods/report").await.json();
    assert!(
        gateways["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == json!("authorizenet"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn broken_bodies_rate_limits_and_ok_false() {
    let server = start().await;
    server.handle.set_faults(FaultOptions {
        share_truncated: 1.0,
        ..FaultOptions::default()
    });
    let cut = get(&server, "plans").await;
    assert_eq!(cut.status, 200);
    assert_eq!(
        cut.header("content-length"),
        Some(cut.body.len().to_string().as_str())
    );
    assert!(serde_json::from_slice::<Value>(&cut.body).is_err());

    server.handle.set_faults(FaultOptions {
        share_dropped: 1.0,
        ..FaultOptions::default()
    });
    let dropped = get(&server, "plans").await;
    let announced: usize = dropped.header("content-length").unwrap().parse().unwrap();
    assert!(
        dropped.body.len() < announced,
        "{} of {announced}",
        dropped.body.len()
    );

    server.handle.set_faults(FaultOptions {
        share_429: 1.0,
        retry_after_secs: Some(3),
        ..FaultOptions::default()
    });
    let limited = get(&server, "plans").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("3"));
    server.handle.set_faults(FaultOptions {
        share_429: 1.0,
        retry_after_secs: Some(2),
        retry_after_in_body: true,
        ..FaultOptions::default()
    });
    let in_body = get(&server, "plans").await;
    assert_eq!(in_body.header("retry-after"), None);
    assert_eq!(in_body.json()["parameters"]["retry_after"], json!(2));

    server.handle.set_faults(FaultOptions {
        share_ok_false_200: 1.0,
        ..FaultOptions::default()
    });
    let not_ok = get(&server, "plans").await;
    assert_eq!(
        (not_ok.status, not_ok.json()["ok"].clone()),
        (200, json!(false))
    );

    server.handle.set_faults(FaultOptions {
        max_rps: Some(1.0),
        ..FaultOptions::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(get(&server, "plans").await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let faults = server.handle.requests().faults;
    assert_eq!(faults.truncated, 1);
    assert_eq!(faults.dropped, 1);
    assert_eq!(faults.rate_limited, 2);
    assert_eq!(faults.ok_false, 1);
    assert!(faults.rps_limited >= 1);
    server.shutdown().await;
}

#[tokio::test]
async fn hooks_quirks_and_drift() {
    let server = start().await;
    server
        .handle
        .set_response_hook(Some(Arc::new(|info, body: &mut Value| {
            if info.method_path == "plans" && info.param("offset") == Some("100") {
                body["result"] = json!([{"plan_id": "not a number"}]);
            }
        })));
    let hooked = get(&server, "plans?offset=100").await.json();
    assert_eq!(hooked["result"][0]["plan_id"], json!("not a number"));
    server.handle.set_response_hook(None);

    server.handle.set_quirks(Quirks {
        ids_as_strings: true,
        money_as_numbers: true,
        omit_ok: true,
        extra_fields: true,
        float_revenue: true,
        exact_rates: false,
        payment_methods_snake: false,
        rates_moved: false,
    });
    let quirky = get(&server, "plans?limit=1").await.json();
    assert!(quirky.get("ok").is_none());
    assert!(quirky["result"][0]["plan_id"].is_string());
    assert!(quirky["result"][0]["price"].is_number());
    assert!(quirky["result"][0].get("sim_extra").is_some());
    server.handle.set_quirks(Quirks::default());

    let before = server.handle.data().orders.len();
    server.handle.set_drift(3);
    let first = get(&server, "orders?limit=10").await.json();
    let second = get(&server, "orders?limit=10&offset=10").await.json();
    assert_eq!(server.handle.data().orders.len(), before + 6);
    // Rows 7..10 of the first page move to 10..13: the second page starts with repeats.
    assert_eq!(
        second["result"][0]["order_key"],
        first["result"][7]["order_key"]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn several_bots_each_with_their_own_data_key_and_failures() {
    crate::clock::pin_unless_set(crate::clock::TEST_NOW_SECS);
    let opts = SimOptions {
        bots: 3,
        orders: 40,
        members: 10,
        ..SimOptions::default()
    };
    let bots = opts.bot_list();
    let ids: Vec<u64> = bots.iter().map(|b| b.bot_id).collect();
    assert_eq!(ids, [opts.bot_id, opts.bot_id + 1, opts.bot_id + 2]);
    assert_eq!(bots[0].api_key, opts.api_key, "the first bot keeps the key");
    assert_eq!(bots[2].api_key, format!("{}-{}", opts.api_key, ids[2]));
    let server = SimServer::start(opts.clone()).await.unwrap();
    let again = SimServer::start(opts.clone()).await.unwrap();
    let keys = |s: &SimServer, i: usize| -> Vec<String> {
        s.handles[i]
            .data()
            .orders
            .iter()
            .map(|o| o.order_key.clone())
            .collect()
    };
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(keys(&server, i), keys(&again, i), "bot {i} is reproducible");
        assert_eq!(server.handles[i].data().bot_id, *id);
    }
    assert_ne!(
        keys(&server, 0),
        keys(&server, 1),
        "bots have their own data"
    );
    // A bot's own key works; another bot's key does not.
    let url = |i: usize, key: &str| format!("/v1/bot{}/{key}/users/count", ids[i]);
    // The status of bot `i`'s `/users/count` asked with bot `k`'s key.
    let status = async |i: usize, k: usize| {
        request(&server, "GET", &url(i, &bots[k].api_key))
            .await
            .status
    };
    assert_eq!(status(1, 1).await, 200);
    assert_eq!(status(1, 0).await, 401);
    // Revoked (403 asked) and down: that bot alone.
    server.handles[1].revoke_key(403);
    let refused = request(&server, "GET", &url(1, &bots[1].api_key)).await;
    assert_eq!(
        (refused.status, refused.json()["code"].clone()),
        (403, json!(403))
    );
    assert_eq!(status(2, 2).await, 200);
    server.handles[2].set_down(true);
    assert_eq!(status(2, 2).await, 503);
    assert_eq!(status(0, 0).await, 200);
    assert_eq!(server.handles[2].requests().faults.server_errors, 1);
    server.handles[1].restore_key();
    server.handles[2].set_down(false);
    assert_eq!(status(1, 1).await, 200);
    assert_eq!(status(2, 2).await, 200);
    // Counts are per bot, and the server adds them up.
    let per_bot: Vec<u64> = server.handles.iter().map(|h| h.requests().total).collect();
    assert_eq!(per_bot, [1, 4, 3]);
    assert_eq!(server.requests().total, 8);
    server.shutdown().await;
    again.shutdown().await;
}

#[tokio::test]
async fn serving_time_counts_the_handlers_work_not_the_latency() {
    let server = SimServer::start(SimOptions {
        orders: 2_000,
        faults: FaultOptions {
            latency_ms: 60,
            ..FaultOptions::default()
        },
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(get(&server, "orders?limit=100").await.status, 200);
    }
    let waited = started.elapsed();
    let counts = server.requests();
    assert_eq!(counts.total, 3);
    // Some work was done (100 orders rendered per answer), but less than the 3 × 60 ms
    // the client waited: the latency is left out.
    assert!(counts.serving > std::time::Duration::ZERO);
    assert!(
        counts.serving < waited - std::time::Duration::from_millis(3 * 60),
        "serving {:?} of {waited:?}",
        counts.serving
    );
    server.reset_counts();
    assert_eq!(server.requests().serving, std::time::Duration::ZERO);
    server.shutdown().await;
}
