//! Commands suggested to the user, spelled so they work where the user is.
//!
//! `tgm-sync …` only works when that name on the PATH is this program. A build run
//! through `cargo run` lives in a cargo target directory and is on no PATH: it is told
//! `cargo run -- …` (with `--manifest-path` when the working directory is outside the
//! package) and how to install it. Anything else is named by its full path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The program's name on a PATH once installed.
pub(crate) const PROGRAM: &str = "tgm-sync";

/// How this process can be run again by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Invocation {
    /// `tgm-sync` on the PATH is this program.
    OnPath,
    /// A build in a cargo target directory: `cargo run --`; `manifest` when the working
    /// directory is not inside the package (cargo would not find it from there).
    Cargo { manifest: Option<PathBuf> },
    /// Neither: the program's full path.
    Path(PathBuf),
}

impl Invocation {
    /// Works out how this process was started (from its executable, the PATH, the
    /// working directory and what cargo sets for `cargo run`).
    pub(crate) fn detect() -> Invocation {
        let Ok(exe) = std::env::current_exe().and_then(|e| e.canonicalize()) else {
            return Invocation::OnPath;
        };
        let path = std::env::var_os("PATH").unwrap_or_default();
        let cwd = std::env::current_dir().ok();
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        classify(
            &exe,
            std::env::split_paths(&path),
            cwd.as_deref(),
            manifest_dir.as_deref(),
        )
    }

    /// The command line that runs `args` (e.g. `sync --config x.toml`).
    pub(crate) fn command(&self, args: &str) -> String {
        let program = match self {
            Invocation::OnPath => PROGRAM.to_string(),
            Invocation::Cargo { manifest: None } => "cargo run --".to_string(),
            Invocation::Cargo {
                manifest: Some(path),
            } => format!("cargo run --manifest-path {} --", path.display()),
            Invocation::Path(exe) => exe.display().to_string(),
        };
        if args.is_empty() {
            program
        } else {
            format!("{program} {args}")
        }
    }

    /// A line saying how to get `tgm-sync` on the PATH, when it is not.
    pub(crate) fn install_note(&self) -> Option<String> {
        match self {
            Invocation::OnPath => None,
            Invocation::Cargo { .. } => Some(format!(
                "(`cargo install --path .` puts `{PROGRAM}` in ~/.cargo/bin, so `{PROGRAM} …` works from anywhere)"
            )),
            Invocation::Path(exe) => Some(format!(
                "({} is not on your PATH as `{PROGRAM}`: copy or link it into a directory that is)",
                exe.display()
            )),
        }
    }
}

/// This process's invocation, worked out once.
pub(crate) fn invocation() -> &'static Invocation {
    static ONCE: OnceLock<Invocation> = OnceLock::new();
    ONCE.get_or_init(Invocation::detect)
}

/// `args` as a command that works here: `tgm-sync sync`, `cargo run -- sync`, ….
pub(crate) fn command(args: &str) -> String {
    invocation().command(args)
}

/// Where `name` is found on the PATH, if anywhere (e.g. is the `duckdb` CLI there?).
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A path as one shell word: as it is when that is safe, else in single quotes.
pub(crate) fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The decision, from plain inputs (tested without touching the process's environment).
pub(crate) fn classify(
    exe: &Path,
    path_dirs: impl IntoIterator<Item = PathBuf>,
    cwd: Option<&Path>,
    manifest_dir: Option<&Path>,
) -> Invocation {
    let on_path = path_dirs
        .into_iter()
        .filter(|dir| !dir.as_os_str().is_empty())
        .any(|dir| {
            dir.join(PROGRAM)
                .canonicalize()
                .is_ok_and(|found| found == exe)
        });
    if on_path {
        return Invocation::OnPath;
    }
    // A build whose package is known: cargo set CARGO_MANIFEST_DIR (`cargo run`), or the
    // target directory sits in the package. A target directory elsewhere
    // (CARGO_TARGET_DIR) run by hand leaves the package unknown: the full path works.
    let package = cargo_target_dir(exe).and_then(|target| {
        manifest_dir
            .map(Path::to_path_buf)
            .or_else(|| target.parent().map(Path::to_path_buf))
            .filter(|p| p.join("Cargo.toml").is_file())
    });
    let Some(package) = package else {
        return Invocation::Path(exe.to_path_buf());
    };
    // cargo finds the package by walking up from the working directory.
    let found_from_cwd = cwd.is_none_or(|cwd| cwd.starts_with(&package));
    Invocation::Cargo {
        manifest: (!found_from_cwd).then(|| package.join("Cargo.toml")),
    }
}

/// The cargo target directory holding `exe` (`target/debug/tgm-sync`,
/// `target/<triple>/release/tgm-sync`): the nearest ancestor with cargo's `CACHEDIR.TAG`
/// and `.rustc_info.json`.
fn cargo_target_dir(exe: &Path) -> Option<&Path> {
    exe.ancestors()
        .skip(1)
        .take(3)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file() && dir.join(".rustc_info.json").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, b"").expect("write");
    }

    /// A package with a target directory and a built binary in it.
    fn package() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        touch(&root.join("Cargo.toml"));
        touch(&root.join("target/CACHEDIR.TAG"));
        touch(&root.join("target/.rustc_info.json"));
        let exe = root.join("target/debug/tgm-sync");
        touch(&exe);
        (dir, exe)
    }

    #[test]
    fn a_build_in_a_target_dir_is_run_through_cargo() {
        let (dir, exe) = package();
        let root = dir.path().canonicalize().expect("canonical");
        let got = classify(&exe, Vec::new(), Some(&root.join("src")), None);
        assert_eq!(got, Invocation::Cargo { manifest: None });
        assert_eq!(got.command("sync"), "cargo run -- sync");
        assert!(
            got.install_note()
                .is_some_and(|n| n.contains("cargo install --path ."))
        );
    }

    #[test]
    fn outside_the_package_cargo_is_told_where_the_manifest_is() {
        let (dir, exe) = package();
        let root = dir.path().canonicalize().expect("canonical");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let got = classify(&exe, Vec::new(), Some(elsewhere.path()), Some(&root));
        assert_eq!(
            got.command("status"),
            format!(
                "cargo run --manifest-path {} -- status",
                root.join("Cargo.toml").display()
            )
        );
    }

    #[test]
    fn the_name_on_the_path_wins_when_it_is_this_program() {
        let (dir, exe) = package();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::os::unix::fs::symlink(&exe, bin.join(PROGRAM)).expect("symlink");
        let got = classify(&exe, vec![PathBuf::new(), bin], None, None);
        assert_eq!(got, Invocation::OnPath);
        assert_eq!(got.command("sync"), "tgm-sync sync");
        assert_eq!(got.install_note(), None);
    }

    #[test]
    fn another_tgm_sync_on_the_path_is_not_this_one() {
        let (dir, exe) = package();
        let other = dir.path().join("other/tgm-sync");
        touch(&other);
        let got = classify(&exe, vec![dir.path().join("other")], None, None);
        assert!(matches!(got, Invocation::Cargo { .. }), "{got:?}");
    }

    #[test]
    fn paths_become_one_shell_word() {
        assert_eq!(
            shell_word(Path::new("tgm-demo/warehouse.duckdb")),
            "tgm-demo/warehouse.duckdb"
        );
        assert_eq!(
            shell_word(Path::new("my data/w.duckdb")),
            "'my data/w.duckdb'"
        );
        assert_eq!(shell_word(Path::new("it's")), "'it'\\''s'");
    }

    #[test]
    fn a_target_dir_outside_any_known_package_is_named_by_its_path() {
        let (dir, exe) = package();
        std::fs::remove_file(dir.path().join("Cargo.toml")).expect("rm");
        let got = classify(&exe, Vec::new(), Some(dir.path()), None);
        assert_eq!(got, Invocation::Path(exe.clone()));
    }

    #[test]
    fn a_copy_elsewhere_is_named_by_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("opt/tgm-sync");
        touch(&exe);
        let got = classify(&exe, Vec::new(), None, None);
        assert_eq!(got.command("sync"), format!("{} sync", exe.display()));
    }
}
