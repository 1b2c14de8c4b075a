//! The outputs' places kept apart: the warehouse file, the Parquet mirror and a
//! `file://` lake may not lie one inside another (a mirror holding the warehouse, a lake
//! under the mirror would be swept, listed or read as each other's files).

use std::path::{Component, Path, PathBuf};

use super::ConfigError;

/// One output's place, named by its setting.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub setting: &'static str,
    pub path: PathBuf,
}

/// Refuses the first two places of which one is inside the other (or both the same).
pub(crate) fn check_apart(places: &[Place]) -> Result<(), ConfigError> {
    let resolved: Vec<(&Place, PathBuf)> = places.iter().map(|p| (p, resolve(&p.path))).collect();
    for (i, (a, pa)) in resolved.iter().enumerate() {
        for (b, pb) in &resolved[i + 1..] {
            if pa.starts_with(pb) || pb.starts_with(pa) {
                return Err(ConfigError::Overlap {
                    first: a.setting,
                    first_path: a.path.clone(),
                    second: b.setting,
                    second_path: b.path.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The absolute path, `.` and `..` resolved lexically, and symbolic links resolved in
/// the longest part of it that exists (the rest is not created yet).
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut lexical = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(setting: &'static str, path: &str) -> Place {
        Place {
            setting,
            path: PathBuf::from(path),
        }
    }

    #[test]
    fn places_inside_one_another_are_refused_naming_both() {
        let apart = [
            place("warehouse", "/srv/tgm/warehouse.duckdb"),
            place("parquet_dir", "/srv/tgm/parquet"),
            place("lake_url", "/srv/tgm/lake"),
        ];
        assert!(check_apart(&apart).is_ok());
        for (a, b) in [
            ("/srv/tgm/out/warehouse.duckdb", "/srv/tgm/out"),
            ("/srv/tgm/parquet", "/srv/tgm/parquet/../parquet/lake"),
            ("/srv/tgm/lake", "/srv/tgm/./lake/"),
        ] {
            let err =
                check_apart(&[place("parquet_dir", a), place("lake_url", b)]).expect_err("overlap");
            let text = err.to_string();
            assert!(
                text.contains("parquet_dir")
                    && text.contains("lake_url")
                    && text.contains(a)
                    && text.contains(b),
                "{text}"
            );
        }
        // Siblings that share a prefix of characters are apart.
        assert!(
            check_apart(&[
                place("parquet_dir", "/srv/tgm/parq"),
                place("lake_url", "/srv/tgm/parquet")
            ])
            .is_ok()
        );
    }

    #[test]
    fn a_symbolic_link_does_not_hide_an_overlap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mirror = dir.path().join("parquet");
        std::fs::create_dir(&mirror).expect("mkdir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&mirror, &link).expect("symlink");
        let err = check_apart(&[
            place("parquet_dir", &mirror.display().to_string()),
            place("lake_url", &link.join("lake").display().to_string()),
        ]);
        assert!(err.is_err(), "{err:?}");
    }
}
