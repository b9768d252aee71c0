//! The kinds of grant, registered in one place ([`KINDS`]): mounts, writes,
//! env, network (with its TLS roots) and limits. Each kind's module owns its
//! manifest key, its resolution into the sandbox and its denial text
//! ([`super::mounts`], [`super::writes`], [`super::env`], [`super::net`] and
//! [`super::tls`], [`super::limits`]); through [`Capability`] it also says
//! how it reads to a person, so `host plugins list|check|inspect` show every
//! kind without knowing any. Each kind also parses its own keys, for the
//! manifest and for the admin's `grants.toml` alike, reporting a broken rule
//! as a [`KeyProblem`]. A new kind of grant is one module plus a line in
//! [`KINDS`] (and its key in the manifest's raw shape).

use super::ResolvedGrants;
use crate::manifest::Manifest;

/// A key of a manifest or of `grants.toml` that breaks its kind's rule. The
/// message names the key (`grants.writes`, `search.writes[0]`); the caller's
/// error names the file.
#[derive(Debug)]
pub(crate) struct KeyProblem {
    /// What is wrong, naming the key.
    pub(crate) message: String,
    /// What to change.
    pub(crate) hint: String,
}

impl KeyProblem {
    /// A problem with `message` and `hint`.
    pub(crate) fn new(message: String, hint: impl Into<String>) -> KeyProblem {
        KeyProblem {
            message,
            hint: hint.into(),
        }
    }
}

/// A kind's fields in `host plugins inspect --json`'s `grants` object.
pub type JsonFields = Vec<(&'static str, serde_json::Value)>;

/// What `host plugins` needs of a kind of grant.
pub trait Capability: Sync {
    /// The manifest key the kind lives under (`grants.writes`, `limits`).
    fn key(&self) -> &'static str;

    /// Whether `m` grants anything of this kind: by default, whether its
    /// [`summary`](Capability::summary) of the manifest says anything (a kind
    /// that states its absence, and the limits, which always apply, say so
    /// themselves).
    fn granted(&self, m: &Manifest) -> bool {
        !self.summary(m, None).is_empty()
    }

    /// One phrase per grant of this kind, rendered inert; from the resolved
    /// grants when the plugin was loaded (canonical paths), else from the
    /// manifest as requested. Empty when nothing of the kind is granted,
    /// unless the kind states its absence ("no network").
    fn summary(&self, m: &Manifest, resolved: Option<&ResolvedGrants>) -> Vec<String>;

    /// The kind's fields in `host plugins inspect --json`'s `grants` object.
    fn json(&self, m: &Manifest, resolved: &ResolvedGrants) -> JsonFields;

    /// What `host plugins check` warns about, given the component's imports.
    fn warnings(&self, _m: &Manifest, _imports: &[String]) -> Vec<String> {
        Vec::new()
    }

    /// Whether this kind is the plugin's limits (shown apart from its grants).
    fn is_limits(&self) -> bool {
        false
    }
}

/// Every kind of grant, in the order they are shown.
pub static KINDS: &[&dyn Capability] = &[
    &super::mounts::MountsKind,
    &super::writes::WritesKind,
    &super::env::EnvKind,
    &super::net::NetworkKind,
    &super::limits::LimitsKind,
];

/// The grant kinds (all but the limits).
pub fn grants() -> impl Iterator<Item = &'static dyn Capability> {
    KINDS.iter().copied().filter(|k| !k.is_limits())
}

/// The limits kind.
pub fn limits() -> &'static dyn Capability {
    &super::limits::LimitsKind
}
