//! TLS trust of a plugin's `https://` requests: which roots it trusts, and
//! what a failed handshake is called.
//!
//! * **Roots.** The Mozilla roots compiled into the host (`webpki-roots`),
//!   plus the PEM files the manifest's `[grants] tls-roots` names (an admin's
//!   internal CA). Those files are read when the plugin is loaded, like its
//!   mounts (through [`crate::bounded_read`], so a FIFO or a device is
//!   refused), and a missing, empty or malformed file fails the load.
//! * **One crypto provider, named.** The client configuration is built with
//!   rustls' `ring` provider explicitly, never the process-wide default, so
//!   nothing another crate installs changes what the host accepts.
//! * **No way to skip verification.** There is no option for it: every
//!   certificate is verified against the granted host name of the URL (see
//!   `runtime::network`), by rustls' webpki verifier.
//!
//! [`classify`] turns a handshake error into the name a person looks for
//! (unknown issuer, name mismatch, expired, not TLS) and says what would
//! change it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use crate::bounded_read::{self, Symlinks};
use crate::manifest::Manifest;

/// Refuse a `tls-roots` entry under `key` that is empty or climbs with `..`.
pub(crate) fn check_root_spelling(
    key: &str,
    root: &str,
    hint: &str,
) -> Result<(), super::capability::KeyProblem> {
    if root.is_empty() || crate::manifest::has_parent_segment(Path::new(root)) {
        return Err(super::capability::KeyProblem::new(
            format!(
                "key `{key}`: trust roots `{}` is empty or contains `..`",
                crate::render::inert(root)
            ),
            hint,
        ));
    }
    Ok(())
}

/// A manifest's `tls-roots`, made absolute against its folder `dir`, each
/// once.
pub(crate) fn parse_roots(
    roots: &[String],
    dir: &Path,
) -> Result<Vec<PathBuf>, super::capability::KeyProblem> {
    const HINT: &str =
        "name a PEM file of the CA certificate, relative to this manifest or absolute";
    let mut paths: Vec<PathBuf> = Vec::with_capacity(roots.len());
    for (i, root) in roots.iter().enumerate() {
        let key = format!("grants.tls-roots[{i}]");
        check_root_spelling(&key, root, HINT)?;
        let joined = crate::manifest::lexically_normal(&dir.join(root));
        if paths.contains(&joined) {
            return Err(super::capability::KeyProblem::new(
                format!(
                    "key `{key}`: trust roots `{}` is listed twice",
                    crate::render::inert(root)
                ),
                "list each PEM file once",
            ));
        }
        paths.push(joined);
    }
    Ok(paths)
}

/// A `tls-roots` PEM file larger than this is refused before parsing.
pub const MAX_ROOTS_FILE_BYTES: u64 = 1024 * 1024;

/// Why a plugin's extra trust roots could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error(
    "plugin `{plugin}`: key `{key}` in `{shown_manifest}`: trust roots `{shown_path}` {problem}\nhint: name a PEM file holding the CA certificate(s) (`-----BEGIN CERTIFICATE-----`), relative to the manifest or absolute",
    shown_manifest = crate::render::inert_path(manifest),
    shown_path = crate::render::inert_path(path)
)]
pub struct TlsRootsError {
    /// The plugin's name.
    pub plugin: String,
    /// Path of the plugin's manifest.
    pub manifest: PathBuf,
    /// The key that names them (`grants.tls-roots[0]`, say).
    pub key: String,
    /// The PEM file.
    pub path: PathBuf,
    /// What is wrong with it, phrased to follow its path.
    pub problem: String,
}

/// The client configuration for plugins without extra roots: built once.
fn default_config() -> Result<Arc<ClientConfig>, String> {
    static DEFAULT: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| client_config(mozilla_roots()).map(Arc::new))
        .clone()
}

fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn client_config(roots: RootCertStore) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("the ring provider refused TLS 1.2/1.3: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The TLS client configuration of `manifest`'s plugin: the Mozilla roots
/// plus its `[grants] tls-roots`, read now.
pub fn resolve(manifest: &Manifest) -> Result<Arc<ClientConfig>, TlsRootsError> {
    let fail = |i: usize, problem: String| TlsRootsError {
        plugin: manifest.name.clone(),
        manifest: manifest.path.clone(),
        key: format!("grants.tls-roots[{i}]"),
        path: manifest
            .grants
            .tls_roots
            .get(i)
            .cloned()
            .unwrap_or_default(),
        problem,
    };
    if manifest.grants.tls_roots.is_empty() {
        return default_config().map_err(|e| fail(0, e));
    }
    let mut roots = mozilla_roots();
    for (i, path) in manifest.grants.tls_roots.iter().enumerate() {
        for cert in read_pem(path).map_err(|e| fail(i, e))? {
            roots.add(cert).map_err(|e| {
                fail(
                    i,
                    format!("holds a certificate that is not a usable root: {e}"),
                )
            })?;
        }
    }
    client_config(roots).map(Arc::new).map_err(|e| fail(0, e))
}

/// The certificates of one PEM file; at least one.
pub fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = bounded_read::read_regular(
        path,
        MAX_ROOTS_FILE_BYTES,
        "trust roots file",
        Symlinks::Follow,
    )
    .map_err(|e| format!("cannot be read: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("holds no certificate".into());
    }
    Ok(certs)
}

/// What failed in a TLS handshake, as [`classify`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The chain does not end at a trusted root.
    UnknownIssuer,
    /// The certificate is for other names than the granted one.
    NameMismatch,
    /// The certificate's validity period has ended.
    Expired,
    /// The certificate's validity period has not begun.
    NotYetValid,
    /// The server did not answer with TLS at all.
    NotTls,
    /// Anything else rustls refused (revoked, bad signature, protocol).
    Other,
}

impl TlsFailure {
    /// The short name shown in denials.
    pub fn name(self) -> &'static str {
        match self {
            Self::UnknownIssuer => "unknown issuer",
            Self::NameMismatch => "name mismatch",
            Self::Expired => "expired certificate",
            Self::NotYetValid => "certificate not yet valid",
            Self::NotTls => "not TLS",
            Self::Other => "TLS handshake failed",
        }
    }
}

impl TlsFailure {
    /// What would change the outcome, for the plugin whose manifest is
    /// `manifest`. Never "skip verification": there is no such setting.
    pub fn remedy(self, manifest: &Path) -> String {
        let manifest = crate::render::inert_path(manifest);
        match self {
            Self::UnknownIssuer => format!(
                "to trust the issuer (an internal CA), add its PEM file to [grants] tls-roots in `{manifest}`, or ask the admin to add it to `tls-roots` in grants.toml"
            ),
            Self::NameMismatch => "the certificate does not cover the host named in the URL; use a URL naming a host the certificate is for, or reissue the certificate with that name (verification cannot be turned off)".into(),
            Self::Expired | Self::NotYetValid => "renew the server's certificate or fix the clock of this machine or the server (verification cannot be turned off)".into(),
            Self::NotTls => "the server does not speak TLS on that port; use an http:// URL if it serves plain HTTP, or the port of its TLS listener (and grant that port)".into(),
            Self::Other => "check the server's TLS setup (certificate chain, protocol versions TLS 1.2/1.3); verification cannot be turned off".into(),
        }
    }
}

/// Name the failure of a handshake that ended with `error` (the
/// `std::io::Error` tokio-rustls returns, wrapping a [`rustls::Error`]).
pub fn classify(error: &std::io::Error) -> (TlsFailure, String) {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        let failure = match error.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::InvalidData => TlsFailure::NotTls,
            _ => TlsFailure::Other,
        };
        return (failure, error.to_string());
    };
    let failure = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::NameMismatch
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotYetValid
            }
            _ => TlsFailure::Other,
        },
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => TlsFailure::NotTls,
        _ => TlsFailure::Other,
    };
    (failure, tls.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path, roots: &[&str]) -> Manifest {
        let list: Vec<String> = roots.iter().map(|r| format!("{r:?}")).collect();
        let path = dir.join("plugin.toml");
        std::fs::write(
            &path,
            format!(
                "[plugin]\nname = \"p\"\nkind = \"tool\"\ncomponent = \"p.wasm\"\n[grants]\ntls-roots = [{}]\n",
                list.join(", ")
            ),
        )
        .expect("write manifest");
        crate::manifest::load(&path).expect("manifest")
    }

    #[test]
    fn without_extra_roots_the_shared_default_is_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = resolve(&manifest(dir.path(), &[])).expect("config");
        let b = resolve(&manifest(dir.path(), &[])).expect("config");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.alpn_protocols, [b"http/1.1".to_vec()]);
    }

    #[test]
    fn bad_roots_files_fail_the_load_naming_key_and_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("empty.pem"), "no certificates here\n").expect("write");
        std::fs::write(
            dir.path().join("bad.pem"),
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        for (file, problem) in [
            ("missing.pem", "cannot be read"),
            ("empty.pem", "holds no certificate"),
            ("bad.pem", "not"),
        ] {
            let e = resolve(&manifest(dir.path(), &[file])).expect_err(file);
            let text = e.to_string();
            assert!(
                text.contains("key `grants.tls-roots[0]`") && text.contains(problem),
                "{file}: {text}"
            );
            assert!(text.contains("\nhint: "), "{text}");
        }
    }

    #[test]
    fn io_errors_without_a_tls_error_are_named() {
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert_eq!(classify(&eof).0, TlsFailure::NotTls);
        let wrapped = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_eq!(classify(&wrapped).0, TlsFailure::UnknownIssuer);
        let expired = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        assert_eq!(classify(&expired).0.name(), "expired certificate");
    }
}
