//! `tgm-sync init` as a new user meets it: a fresh directory, the simulator as the API.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::*;

/// The files `init` writes, all inside `dir`.
struct Layout {
    config: PathBuf,
    key_file: PathBuf,
    warehouse: PathBuf,
}

fn layout(dir: &Path) -> Layout {
    Layout {
        config: dir.join("tgm-sync.toml"),
        key_file: dir.join("secrets").join("api_key"),
        warehouse: dir.join("data").join("warehouse.duckdb"),
    }
}

/// `init` with every answer a flag and the key piped on stdin.
fn init(base_url: &str, files: &Layout, key: &str, extra: &[&str]) -> Output {
    use std::io::Write;
    let mut child = init_command(base_url, files)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("init starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{key}\n").as_bytes())
        .expect("key piped");
    child.wait_with_output().expect("init ends")
}

fn init_command(base_url: &str, files: &Layout) -> Command {
    let mut cmd = bin();
    cmd.arg("--config")
        .arg(&files.config)
        .args([
            "init",
            "--bot-id",
            &BOT_ID.to_string(),
            "--base-url",
            base_url,
        ])
        .arg("--api-key-file")
        .arg(&files.key_file)
        .arg("--warehouse")
        .arg(&files.warehouse);
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_on_a_fresh_directory_writes_a_config_that_syncs() {
    let server = start_sim(sim_options(200, 50)).await;
    let dir = tempdir();
    let files = layout(dir.path());

    let out = init(&server.base_url(), &files, TEST_KEY, &[]);
    let said = text(&out);
    assert!(out.status.success(), "init failed: {said}");
    assert!(!said.contains(TEST_KEY), "init echoed the key:\n{said}");
    // The key was checked with one request, and only one.
    assert_eq!(server.handle().requests().total, 1, "requests made by init");

    assert_eq!(
        std::fs::read_to_string(&files.key_file).expect("key file"),
        format!("{TEST_KEY}\n")
    );
    assert_eq!(mode(&files.key_file), 0o600, "mode of the key file");
    assert_eq!(
        mode(files.key_file.parent().expect("dir")),
        0o700,
        "mode of its directory"
    );
    assert_eq!(mode(&files.config), 0o600, "mode of the config");
    let config = std::fs::read_to_string(&files.config).expect("config");
    assert!(
        !config.contains(TEST_KEY),
        "the key is in the config:\n{config}"
    );
    for needle in [
        format!("bot_id = {BOT_ID}"),
        format!("api_key_file = \"{}\"", files.key_file.display()),
        format!("warehouse = \"{}\"", files.warehouse.display()),
    ] {
        assert!(
            config.contains(&needle),
            "config lacks `{needle}`:\n{config}"
        );
    }
    assert!(
        config.lines().filter(|l| l.starts_with('#')).count() >= 10,
        "the config is not commented:\n{config}"
    );
    let next = said
        .lines()
        .find(|l| l.starts_with("next:"))
        .unwrap_or_else(|| panic!("no next command:\n{said}"));
    assert!(
        next.contains(&format!("sync --config {}", files.config.display())),
        "next command: {next}"
    );

    // The next command works as printed: no key in the environment, only the files.
    let out = bin()
        .arg("--config")
        .arg(&files.config)
        .args(["sync", "--no-progress"])
        .output()
        .expect("sync runs");
    assert!(
        out.status.success(),
        "sync with the written config: {}",
        text(&out)
    );
    assert!(
        files.warehouse.is_file(),
        "no warehouse at {}",
        files.warehouse.display()
    );
    assert!(!text(&out).contains(TEST_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_refuses_to_overwrite_without_force() {
    let server = start_sim(sim_options(50, 10)).await;
    let dir = tempdir();
    let files = layout(dir.path());
    let first = init(&server.base_url(), &files, TEST_KEY, &[]);
    assert!(first.status.success(), "{}", text(&first));
    let before = (
        std::fs::read(&files.config).expect("config"),
        std::fs::read(&files.key_file).expect("key"),
    );
    server.handle().reset_counts();

    let again = init(&server.base_url(), &files, "another-key", &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    let said = text(&again);
    assert!(
        said.contains(&files.config.display().to_string()) && said.contains("--force"),
        "the refusal names the file and the way out: {said}"
    );
    assert_eq!(
        server.handle().requests().total,
        0,
        "a refusal asks the API nothing"
    );
    let after = (
        std::fs::read(&files.config).expect("config"),
        std::fs::read(&files.key_file).expect("key"),
    );
    assert_eq!(before, after, "a refused init changed the files");

    // Only the key file left over: refused too.
    std::fs::remove_file(&files.config).expect("rm");
    let again = init(&server.base_url(), &files, TEST_KEY, &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains(&files.key_file.display().to_string()));
    assert!(!files.config.exists(), "a refused init wrote the config");

    let forced = init(&server.base_url(), &files, TEST_KEY, &["--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(mode(&files.key_file), 0o600);
    assert!(files.config.is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_refuses_a_wrong_key_and_writes_nothing() {
    let server = start_sim(sim_options(50, 10)).await;
    let dir = tempdir();
    let files = layout(dir.path());
    let wrong = "TGMKEY-wrong-0b7d13";
    let out = init(&server.base_url(), &files, wrong, &[]);
    let said = text(&out);
    assert_eq!(
        out.status.code(),
        Some(4),
        "exit code of a refused key: {said}"
    );
    assert!(said.contains("nothing was written"), "{said}");
    assert!(!said.contains(wrong), "the wrong key was echoed: {said}");
    assert!(
        files_under(dir.path()).is_empty(),
        "files written after a refused key: {:?}",
        files_under(dir.path())
    );
}

/// Typed at the prompts on a real (pseudo-)terminal, whose echo is on by default: the
/// key must not appear on the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_asks_on_a_terminal_and_never_shows_the_key() {
    let server = start_sim(sim_options(50, 10)).await;
    let dir = tempdir();
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["init", "--base-url"])
        .arg(server.base_url())
        .arg("--api-key-file")
        .arg(dir.path().join("api_key"));
    let bot = format!("{BOT_ID}\n");
    let key = format!("{TEST_KEY}\n");
    let run = run_in_pty(
        cmd,
        40,
        160,
        &[
            ("Bot id", &bot),
            ("Warehouse file", "\n"),
            ("API key", &key),
        ],
        Duration::from_secs(60),
    );
    let screen = run.screen();
    assert!(
        run.status.success(),
        "init failed:\n{screen}\n{}",
        run.stdout
    );
    assert!(
        screen.contains(&BOT_ID.to_string()),
        "the bot id typed is echoed as usual:\n{screen}"
    );
    assert!(
        !run.all_text().contains(TEST_KEY) && !run.stdout.contains(TEST_KEY),
        "the key was shown:\n{screen}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("api_key")).expect("key file"),
        key
    );
    let config = std::fs::read_to_string(dir.path().join("tgm-sync.toml")).expect("config");
    let warehouse = dir
        .path()
        .canonicalize()
        .expect("canonical")
        .join("tgm-warehouse.duckdb");
    assert!(
        config.contains(&format!("warehouse = \"{}\"", warehouse.display())),
        "the default warehouse, made absolute:\n{config}"
    );
    // In the config's own directory the next command needs no --config.
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("next:") && l.trim_end().ends_with(" sync")),
        "next command: {}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_force_replaces_a_symlink_and_never_writes_through_one() {
    let server = start_sim(sim_options(50, 10)).await;
    let dir = tempdir();
    let files = layout(dir.path());
    let victims = dir.path().join("elsewhere");
    std::fs::create_dir_all(&victims).expect("dir");
    std::fs::create_dir_all(files.key_file.parent().expect("parent")).expect("dir");
    let victim = |name: &str| {
        let path = victims.join(name);
        std::fs::write(&path, format!("{name}: not yours\n")).expect("victim");
        path
    };
    // The config and the key file are links to files elsewhere; links also sit at every
    // temporary name an init has used (`<name>.tgm-init.tmp`).
    let (config_target, key_target) = (victim("config"), victim("key"));
    std::os::unix::fs::symlink(&config_target, &files.config).expect("link");
    std::os::unix::fs::symlink(&key_target, &files.key_file).expect("link");
    let mut planted = Vec::new();
    for path in [&files.config, &files.key_file] {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let target = victim(&format!("tmp-{name}"));
        let link = path.with_file_name(format!("{name}.tgm-init.tmp"));
        std::os::unix::fs::symlink(&target, &link).expect("link");
        planted.push(target);
    }

    let out = init(&server.base_url(), &files, TEST_KEY, &["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    for target in [&config_target, &key_target].into_iter().chain(&planted) {
        let name = target
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        assert_eq!(
            std::fs::read_to_string(target).expect("still there"),
            format!("{name}: not yours\n"),
            "{} was written through a link",
            target.display()
        );
    }
    for path in [&files.config, &files.key_file] {
        let meta = std::fs::symlink_metadata(path).expect("written");
        assert!(
            meta.file_type().is_file(),
            "{} is still a link",
            path.display()
        );
        assert_eq!(mode(path), 0o600);
    }
    assert_eq!(
        std::fs::read_to_string(&files.key_file)
            .expect("key")
            .trim(),
        TEST_KEY
    );
    server.shutdown().await;
}
