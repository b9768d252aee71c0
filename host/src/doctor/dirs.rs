//! The project file in effect, and the host's own directories (state and
//! compile cache): they can be written, or created where they do not exist
//! yet; the cache's line says where it comes from (per user, or a flag).

use std::path::Path;

use super::{Area, Finding, Status};
use crate::host_dirs::HostDirs;
use crate::render::inert_path;

pub fn check(dirs: &HostDirs) -> Vec<Finding> {
    let project = match dirs.project() {
        Some(p) => Finding::ok(Area::Dirs, "project", format!("`{}`", inert_path(&p.file))),
        None => Finding::ok(
            Area::Dirs,
            "project",
            format!(
                "no {} in `{}` or above: flags and defaults only",
                crate::project::PROJECT_FILE,
                inert_path(dirs.searched_from())
            ),
        ),
    };
    let cache_source = dirs.cache_source().describe();
    let mut findings = vec![project];
    findings.extend(
        [
            (
                "state dir",
                dirs.state_dir(),
                "--state-dir, HARNESS_STATE_DIR or `state` in harness.toml",
            ),
            (
                "cache dir",
                dirs.cache_dir(),
                "--cache-dir or HARNESS_CACHE_DIR",
            ),
        ]
        .into_iter()
        .map(|(what, dir, option)| {
            let shown = inert_path(dir);
            let source = if what == "cache dir" {
                format!(" ({cache_source})")
            } else {
                String::new()
            };
            match writable_or_creatable(dir) {
                Ok(detail) => Finding::ok(Area::Dirs, what, format!("`{shown}` {detail}{source}")),
                Err(why) => Finding::gap(
                    Area::Dirs,
                    Status::Missing,
                    what,
                    format!("`{shown}` {why}{source}"),
                    format!(
                        "make it writable for this user, or choose another folder with {option}"
                    ),
                ),
            }
        }),
    );
    findings
}

/// `Ok` with how, if `dir` is writable or can be created.
fn writable_or_creatable(dir: &Path) -> Result<&'static str, String> {
    match std::fs::metadata(dir) {
        Ok(md) if md.is_dir() => writable(dir).map(|()| "is writable"),
        Ok(_) => Err("is not a directory".into()),
        Err(_) => {
            // The nearest existing ancestor must let us create it.
            let mut ancestor = dir.parent();
            while let Some(a) = ancestor {
                if a.is_dir() {
                    return writable(a)
                        .map(|()| "does not exist yet; it will be created")
                        .map_err(|why| format!("does not exist, and `{}` {why}", inert_path(a)));
                }
                ancestor = a.parent();
            }
            Err("does not exist, and no parent folder does".into())
        }
    }
}

/// Prove `dir` writable by creating and removing a probe file in it.
pub fn writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".host-doctor-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("is not writable: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_dir_under_a_writable_parent_will_be_created_and_a_file_is_not_a_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(writable_or_creatable(dir.path()), Ok("is writable"));
        assert_eq!(
            writable_or_creatable(&dir.path().join("a").join("b")),
            Ok("does not exist yet; it will be created")
        );
        let file = dir.path().join("f");
        std::fs::write(&file, "x").expect("write");
        assert_eq!(
            writable_or_creatable(&file),
            Err("is not a directory".to_string())
        );
        // The probe file is gone again.
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }
}
