//! The Delta Lake output, read back by three readers that share no code with tgm-sync
//! (Python `deltalake`, `polars.scan_delta`, DuckDB 1.5's `delta` extension) and compared
//! row by row with the DuckDB warehouse; on a local S3 server (moto on 127.0.0.1), behind
//! a fault proxy where the test needs one, and on `file://` once.

use std::time::Duration;

use crate::lake_support::*;
use crate::s3_proxy::{Fault, Match, Outcome, Rule, S3Proxy};

/// The harness itself: moto starts, the proxy forwards signed requests unchanged and
/// injects exactly the faults its rules name (boto3 retries them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_moto_and_the_fault_proxy() {
    let Some(envs) = py_envs("harness_moto_and_the_fault_proxy") else {
        return;
    };
    let moto = Moto::start(&envs);
    moto.create_bucket(BUCKET);
    let proxy = S3Proxy::start(
        moto.addr,
        vec![
            Rule::nth(Match::Read, 1, Fault::Status(503)),
            Rule::nth(Match::Read, 2, Fault::DropBeforeForward),
        ],
    )
    .await;
    let through_proxy = S3Access::new(proxy.endpoint());
    let listed = tokio::task::spawn_blocking({
        let envs = envs.clone();
        let access = through_proxy.clone();
        move || {
            let mut cmd = std::process::Command::new(envs.lake_python());
            cmd.arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/it/lake_py/s3_admin.py"
            ))
            .args(["list", BUCKET]);
            access.apply(&mut cmd);
            run_bounded(cmd, Duration::from_secs(60), "s3_admin.py list")
        }
    })
    .await
    .expect("lister");
    assert!(
        listed.status.success(),
        "listing through the proxy failed: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]");
    assert_eq!((proxy.fired(0), proxy.fired(1)), (1, 1), "each fault once");
    let outcomes: Vec<Outcome> = proxy.seen().into_iter().map(|s| s.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Injected(Fault::Status(503)),
            Outcome::Injected(Fault::DropBeforeForward),
            Outcome::Forwarded(200)
        ],
        "503, a dropped connection, then the real answer"
    );
}
