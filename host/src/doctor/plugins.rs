//! The plugins folder as `host doctor` sees it: each manifest valid and
//! within `grants.toml`, each component present and fresh, and each
//! environment setting that names a URL pointing inside the network grant.

use std::path::{Path, PathBuf};

use super::{Area, Finding, Status};
use crate::grants::admin::{self, AdminGrants};
use crate::manifest::{self, EnvGrant, Manifest};
use crate::render::inert_path;

/// The plugins folder, read once for all checks.
#[derive(Debug)]
pub struct Folder {
    pub dir: PathBuf,
    /// Why the folder could not be listed, if it could not.
    pub unreadable: Option<String>,
    /// Each `plugin.toml`, parsed or with why not.
    pub manifests: Vec<(PathBuf, Result<Manifest, String>)>,
    /// The folder's `grants.toml` (`None`: a legacy folder), or why it is broken.
    pub admin: Result<Option<AdminGrants>, String>,
}

impl Folder {
    pub fn read(dir: &Path) -> Folder {
        let (manifests, unreadable) = match manifest::manifest_paths(dir) {
            Ok(paths) => (
                paths
                    .into_iter()
                    .map(|p| {
                        let loaded = manifest::load(&p).map_err(|e| crate::render::error_chain(&e));
                        (p, loaded)
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(crate::render::error_chain(&e))),
        };
        Folder {
            dir: dir.to_path_buf(),
            unreadable,
            manifests,
            admin: admin::load(dir).map_err(|e| crate::render::error_chain(&e)),
        }
    }

    /// The manifests that parsed, as they would run: the effective grants
    /// where `grants.toml` allows the request, else the request itself (so
    /// its network entries can still be probed).
    pub fn plugins(&self) -> Vec<Manifest> {
        let admin = self.admin.as_ref().ok().and_then(Option::as_ref);
        self.manifests
            .iter()
            .filter_map(|(_, m)| m.as_ref().ok())
            .map(|m| admin::effective(m, admin).unwrap_or_else(|_| m.clone()))
            .collect()
    }
}

/// Every check of this module.
pub fn check(folder: &Folder) -> Vec<Finding> {
    let mut findings = Vec::new();
    let shown_dir = inert_path(&folder.dir);
    if let Some(why) = &folder.unreadable {
        findings.push(Finding::gap(
            Area::Plugin,
            Status::Missing,
            format!("plugins folder `{shown_dir}`"),
            why.clone(),
            "pass --plugins <folder> (or set `plugins` in harness.toml) naming a folder with one subfolder per plugin, each holding a plugin.toml (or create one with `host plugins new`)",
        ));
        return findings;
    }
    if let Err(why) = &folder.admin {
        findings.push(Finding::gap(
            Area::Plugin,
            Status::Missing,
            format!("`{shown_dir}/{}`", admin::GRANTS_FILE),
            why.clone(),
            "fix the file as its error says; `host plugins grant --all-requested` writes a fresh one from the manifests' requests",
        ));
    }
    let admin = folder.admin.as_ref().ok().and_then(Option::as_ref);
    for (path, loaded) in &folder.manifests {
        let m = match loaded {
            Ok(m) => m,
            Err(why) => {
                findings.push(Finding::gap(
                    Area::Plugin,
                    Status::Missing,
                    format!("manifest `{}`", inert_path(path)),
                    why.clone(),
                    "fix the manifest as its error says (see \"Manifest reference\" in README.md)",
                ));
                continue;
            }
        };
        match admin::effective(m, admin) {
            Ok(_) => findings.push(Finding::ok(
                Area::Plugin,
                format!("{}: manifest", m.name),
                if admin.is_some() {
                    "valid, and its request lies within grants.toml"
                } else {
                    "valid (no grants.toml: its request is taken as granted)"
                },
            )),
            Err(refused) => findings.push(Finding::gap(
                Area::Plugin,
                Status::Missing,
                format!("{}: grants", m.name),
                refused.to_string(),
                refused.grant_command().unwrap_or_else(|| {
                    format!("grant it in `{}`", inert_path(&refused.grants_file))
                }),
            )),
        }
        findings.push(component(m, &folder.dir));
        findings.extend(env_urls(m, admin.is_some(), &folder.dir));
    }
    findings
}

/// The component exists and is not older than any source beside the manifest.
fn component(m: &Manifest, plugins_dir: &Path) -> Finding {
    let subject = format!("{}: component", m.name);
    let shown = inert_path(&manifest::lexically_normal(&m.component));
    let build_fix = || match &m.build {
        Some(_) => format!(
            "build it: host plugins build --plugins {}",
            inert_path(plugins_dir)
        ),
        None => format!(
            "build the component and make `plugin.component` in `{}` name it",
            inert_path(&m.path)
        ),
    };
    let built = match std::fs::metadata(&m.component).and_then(|md| md.modified()) {
        Ok(t) => t,
        Err(e) => {
            return Finding::gap(
                Area::Plugin,
                Status::Missing,
                subject,
                format!("`{shown}` cannot be read: {e}"),
                build_fix(),
            );
        }
    };
    match crate::plugin_build::newest_source(m) {
        Some((source, at)) if at > built => Finding::gap(
            Area::Plugin,
            Status::Warning,
            subject,
            format!(
                "stale: `{shown}` is older than its source `{}`",
                inert_path(&source)
            ),
            match &m.build {
                Some(_) => build_fix(),
                None => {
                    "rebuild the component from its sources (the manifest has no [build] command)"
                        .into()
                }
            },
        ),
        _ => Finding::ok(Area::Plugin, subject, format!("`{shown}` is up to date")),
    }
}

/// A URL an environment setting names, with the `host:port` it reaches.
#[derive(Debug, Clone)]
pub struct EnvUrl {
    pub key: String,
    pub url: String,
    pub https: bool,
    /// `host:port` spelled as a network grant entry, default port filled in.
    pub entry: String,
}

/// The environment settings of `m` whose value is an `http(s)://` URL:
/// written in the manifest, or inherited and set in this environment.
pub fn urls(m: &Manifest) -> Vec<EnvUrl> {
    m.grants
        .env
        .iter()
        .filter_map(|g| {
            let value = match g {
                EnvGrant::Value { value, .. } => value.clone(),
                EnvGrant::Inherit { key } => std::env::var(key).ok()?,
            };
            let uri: http::Uri = value.parse().ok()?;
            let https = match uri.scheme_str()? {
                "http" => false,
                "https" => true,
                _ => return None,
            };
            let host = uri.host()?;
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            Some(EnvUrl {
                key: g.key().to_string(),
                url: value,
                https,
                entry: format!("{}:{port}", host.to_ascii_lowercase()),
            })
        })
        .collect()
}

/// Each URL setting must name a `host:port` of the network grant; each
/// inherited variable should be set.
fn env_urls(m: &Manifest, has_grants_file: bool, plugins_dir: &Path) -> Vec<Finding> {
    let mut findings = Vec::new();
    for url in urls(m) {
        let subject = format!("{}: {}", m.name, url.key);
        let granted = crate::network_grant::parse_network_entry(&url.entry)
            .is_ok_and(|entry| m.grants.network.contains(&entry));
        if granted {
            findings.push(Finding::ok(
                Area::Env,
                subject,
                format!("`{}` is within the network grant", url.url),
            ));
            continue;
        }
        let mut fix = format!(
            "add \"{}\" to [grants] network in `{}`",
            url.entry,
            inert_path(&m.path)
        );
        if has_grants_file {
            fix.push_str(&format!(
                " and grant it: host plugins grant {} --network {} --plugins {}",
                m.name,
                url.entry,
                inert_path(plugins_dir)
            ));
        }
        fix.push_str(&format!(", or point {} at a granted host", url.key));
        findings.push(Finding::gap(
            Area::Env,
            Status::Missing,
            subject,
            format!(
                "`{}` names {}, which is not in the plugin's network grant: the host will deny the request",
                url.url, url.entry
            ),
            fix,
        ));
    }
    for grant in &m.grants.env {
        if let EnvGrant::Inherit { key } = grant
            && std::env::var_os(key).is_none()
        {
            findings.push(Finding::gap(
                Area::Env,
                Status::Warning,
                format!("{}: {key}", m.name),
                "inherited from the host's environment, but not set here".to_string(),
                format!("export {key}=... before `host run` (the plugin gets no value otherwise)"),
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path, grants: &str) -> Manifest {
        let path = dir.join("plugin.toml");
        std::fs::write(
            &path,
            format!("[plugin]\nname = \"p\"\nkind = \"tool\"\ncomponent = \"p.wasm\"\n{grants}"),
        )
        .expect("write manifest");
        manifest::load(&path).expect("manifest")
    }

    #[test]
    fn url_settings_are_checked_against_the_grant_with_default_ports() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = manifest(
            dir.path(),
            "[grants]\nnetwork = [\"api.example.com:443\", \"127.0.0.1:8080\"]\n\
             [grants.env]\nvars = { A = \"https://API.example.com/v1\", B = \"http://127.0.0.1:8080/x\", \
             C = \"http://127.0.0.1/\", D = \"not a url\", E = \"ftp://127.0.0.1:8080/\" }\n",
        );
        let found: Vec<(String, bool, String)> = urls(&m)
            .into_iter()
            .map(|u| (u.key, u.https, u.entry))
            .collect();
        assert_eq!(
            found,
            [
                ("A".to_string(), true, "api.example.com:443".to_string()),
                ("B".to_string(), false, "127.0.0.1:8080".to_string()),
                ("C".to_string(), false, "127.0.0.1:80".to_string()),
            ]
        );
        let findings = env_urls(&m, true, dir.path());
        let status: Vec<(&str, Status)> = findings
            .iter()
            .map(|f| (f.subject.as_str(), f.status))
            .collect();
        assert_eq!(
            status,
            [
                ("p: A", Status::Ok),
                ("p: B", Status::Ok),
                ("p: C", Status::Missing),
            ]
        );
        let fix = findings[2].fix.as_deref().expect("fix");
        assert!(
            fix.contains("add \"127.0.0.1:80\" to [grants] network")
                && fix.contains("host plugins grant p --network 127.0.0.1:80"),
            "{fix}"
        );
    }

    #[test]
    fn a_component_older_than_a_source_is_stale_and_build_output_does_not_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = manifest(dir.path(), "");
        std::fs::write(&m.component, b"\0asm").expect("component");
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let set_old = |p: &Path| {
            std::fs::File::options()
                .write(true)
                .open(p)
                .expect("open")
                .set_modified(an_hour_ago)
                .expect("mtime");
        };
        set_old(&m.component);
        // Newer files under target/ and hidden ones are not sources.
        std::fs::create_dir(dir.path().join("target")).expect("mkdir");
        std::fs::write(dir.path().join("target").join("out.o"), "x").expect("write");
        std::fs::write(dir.path().join(".cache"), "x").expect("write");
        assert_eq!(component(&m, dir.path()).status, Status::Ok);
        std::fs::create_dir(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("src").join("lib.rs"), "fn main() {}").expect("write");
        let stale = component(&m, dir.path());
        assert_eq!(stale.status, Status::Warning);
        assert!(stale.detail.contains("src/lib.rs"), "{stale:?}");
        std::fs::remove_file(&m.component).expect("rm");
        assert_eq!(component(&m, dir.path()).status, Status::Missing);
    }
}
