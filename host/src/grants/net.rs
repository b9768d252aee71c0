//! Network grants: `[grants] network` entries resolved to the socket
//! addresses a plugin may reach, and the one check every network operation of
//! the plugin goes through.
//!
//! * **Resolved once, at load.** Each entry becomes a set of `(ip, port)`
//!   pairs: an IP literal as written, a DNS name through the system resolver.
//!   A name that does not resolve fails the load.
//! * **Addresses, not spellings.** TCP connects, UDP sends and the
//!   destination of every wasi:http request are allowed only if their
//!   address and port are in that set. Addresses from a resolver are
//!   normalized (`::ffff:a.b.c.d` compares as `a.b.c.d`); an IPv4-mapped
//!   IPv6 address or an `inet_aton`-style number (`127.1`, `2130706433`)
//!   written *by the plugin* is refused outright with the canonical form in
//!   the message: the manifest refuses those spellings too, so the grant and
//!   the check read the same.
//! * **No listening.** A plugin may bind only the unspecified address with
//!   port 0, which is the implicit bind before a connect or a first send;
//!   `listen` and `accept` are always denied.
//! * **Lookups only for granted names.** A name lookup (wasi:sockets
//!   `ip-name-lookup`, or the host of a wasi:http URL) is performed only for
//!   names listed in the grant, so a plugin cannot smuggle data out in the
//!   names it asks the resolver for.
//!
//! Every denial is a [`NetDenial`] naming the operation; [`NetPolicy::render`]
//! turns it into one log line naming the plugin and the manifest entry that
//! would allow it, with untrusted text rendered inert.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;

use crate::network_grant::{NetHost, NetworkGrant, loose_ipv4};
use crate::render::inert;

/// Where denial lines go: the invocation's log, in practice.
pub type DenialSink = Arc<dyn Fn(String) + Send + Sync>;

/// Resolves a name and port to socket addresses (the system resolver, or a
/// fixed table in tests).
pub type Resolver<'a> = &'a dyn Fn(&str, u16) -> std::io::Result<Vec<SocketAddr>>;

/// The system resolver.
pub fn system_resolver(name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    std::net::ToSocketAddrs::to_socket_addrs(&(name, port)).map(Iterator::collect)
}

/// A plugin's network grant, resolved.
#[derive(Debug, Clone)]
pub struct NetPolicy {
    plugin: String,
    manifest: PathBuf,
    entries: Vec<NetworkGrant>,
    allowed: BTreeSet<(IpAddr, u16)>,
    names: BTreeSet<String>,
}

/// A network grant entry that could not be resolved.
#[derive(Debug)]
pub struct Unresolvable {
    /// The entry's position in `grants.network`, from 0.
    pub index: usize,
    /// The entry as written.
    pub entry: String,
    /// The resolver's error.
    pub error: std::io::Error,
}

/// A denied network operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDenial {
    /// The operation, e.g. `tcp connect 127.0.0.1:9` (already inert).
    pub action: String,
    /// Why it was denied (already inert).
    pub reason: String,
    /// The manifest entry that would allow it, if one could.
    pub allow_with: Option<String>,
}

/// Where a wasi:http request may go, after [`NetPolicy::http_target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpHost {
    /// An IP address the policy already allowed; connect to it as is.
    Ip(IpAddr),
    /// A granted name, lowercase; resolve it, then [`NetPolicy::check_resolved`].
    Name(String),
}

impl NetPolicy {
    /// Resolve a manifest's network entries.
    pub fn resolve(
        plugin: &str,
        manifest: PathBuf,
        entries: &[NetworkGrant],
        resolver: Resolver<'_>,
    ) -> Result<Self, Unresolvable> {
        let mut allowed = BTreeSet::new();
        let mut names = BTreeSet::new();
        for (index, entry) in entries.iter().enumerate() {
            match &entry.host {
                NetHost::Ip(ip) => {
                    allowed.insert((normalize(*ip), entry.port));
                }
                NetHost::Name(name) => {
                    let unresolvable = |error| Unresolvable {
                        index,
                        entry: entry.to_string(),
                        error,
                    };
                    let addrs = resolver(name, entry.port).map_err(unresolvable)?;
                    if addrs.is_empty() {
                        return Err(unresolvable(std::io::Error::other(
                            "the resolver returned no addresses",
                        )));
                    }
                    allowed.extend(addrs.iter().map(|a| (normalize(a.ip()), entry.port)));
                    names.insert(name.clone());
                }
            }
        }
        Ok(Self {
            plugin: plugin.to_string(),
            manifest,
            entries: entries.to_vec(),
            allowed,
            names,
        })
    }

    /// A policy that grants nothing.
    pub fn deny_all(plugin: &str, manifest: PathBuf) -> Self {
        Self {
            plugin: plugin.to_string(),
            manifest,
            entries: Vec::new(),
            allowed: BTreeSet::new(),
            names: BTreeSet::new(),
        }
    }

    /// The plugin this grant belongs to.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The manifest the grant was read from.
    pub fn manifest(&self) -> &std::path::Path {
        &self.manifest
    }

    /// The grant's entries, in manifest order.
    pub fn entries(&self) -> &[NetworkGrant] {
        &self.entries
    }

    /// Every `(address, port)` the grant resolved to.
    pub fn allowed(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.allowed
            .iter()
            .map(|(ip, port)| SocketAddr::new(*ip, *port))
    }

    /// Whether any entry is a DNS name (so name lookups can be useful).
    pub fn has_names(&self) -> bool {
        !self.names.is_empty()
    }

    fn is_allowed(&self, addr: SocketAddr) -> bool {
        self.allowed.contains(&(addr.ip(), addr.port()))
    }

    fn denial(&self, action: String, reason: String, allow_with: Option<String>) -> NetDenial {
        NetDenial {
            action,
            reason,
            allow_with,
        }
    }

    /// The check wasi:sockets makes before every bind, listen, accept,
    /// connect, send and receive.
    pub fn check_socket(&self, addr: SocketAddr, usage: SocketAddrUse) -> Result<(), NetDenial> {
        let (proto, verb) = match usage {
            SocketAddrUse::TcpBind => ("tcp", "bind"),
            SocketAddrUse::TcpListen => ("tcp", "listen"),
            SocketAddrUse::TcpAccept => ("tcp", "accept from"),
            SocketAddrUse::TcpConnect => ("tcp", "connect"),
            SocketAddrUse::UdpBind => ("udp", "bind"),
            SocketAddrUse::UdpSend => ("udp", "send to"),
            SocketAddrUse::UdpReceive => ("udp", "receive from"),
        };
        let action = format!("{proto} {verb} {}", show_addr(addr));
        match usage {
            // The implicit bind of a connect or a first send asks for exactly
            // this; anything else would be a chosen local port, useful only
            // for being reached.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                if addr.ip().is_unspecified() && addr.port() == 0 {
                    Ok(())
                } else {
                    Err(self.denial(
                        action,
                        "plugins may bind only an ephemeral port on the unspecified address (what connecting and sending need)".into(),
                        None,
                    ))
                }
            }
            SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => Err(self.denial(
                action,
                "plugins may not accept connections; listening is never granted".into(),
                None,
            )),
            SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
                self.check_remote(action, addr)
            }
        }
    }

    /// A remote address the plugin wrote itself (a socket address, or an IP
    /// in a URL).
    fn check_remote(&self, action: String, addr: SocketAddr) -> Result<(), NetDenial> {
        if let IpAddr::V6(v6) = addr.ip()
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            let canonical = SocketAddr::new(IpAddr::V4(v4), addr.port());
            return Err(self.spelling_denial(action, "an IPv4-mapped IPv6 address", canonical));
        }
        if self.is_allowed(addr) {
            Ok(())
        } else {
            Err(self.denial(
                action,
                "the address is not in the plugin's network grant".into(),
                Some(show_addr(addr)),
            ))
        }
    }

    /// A denial for an address written in a second spelling.
    fn spelling_denial(&self, action: String, what: &str, canonical: SocketAddr) -> NetDenial {
        let mut reason = format!(
            "{what} is another spelling of {}; only canonical addresses are checked against the grant",
            show_addr(canonical)
        );
        if self.is_allowed(canonical) {
            reason.push_str(" (use the canonical address, which is granted)");
            self.denial(action, reason, None)
        } else {
            self.denial(action, reason, Some(show_addr(canonical)))
        }
    }

    /// The check before a wasi:sockets name lookup. IP literals involve no
    /// resolver and pass (connecting to them is checked as usual); names pass
    /// only if granted.
    pub fn check_lookup(&self, name: &str) -> Result<(), NetDenial> {
        if name.parse::<IpAddr>().is_ok() {
            return Ok(());
        }
        if self.names.contains(&name.to_ascii_lowercase()) {
            return Ok(());
        }
        let shown = inert(name);
        Err(self.denial(
            format!("dns lookup `{shown}`"),
            "only names in the plugin's network grant are looked up, so lookups cannot carry data out".into(),
            Some(format!("{shown}:<port>")),
        ))
    }

    /// The check of a wasi:http request before anything is resolved or
    /// connected: http or https (port 80 or 443 unless the URL names one; the
    /// grant must name the port either way), a canonical IP or a granted
    /// name. `action` is the request as logged (`http GET http://...`,
    /// rendered inert).
    pub fn http_target(&self, action: &str, uri: &http::Uri) -> Result<(HttpHost, u16), NetDenial> {
        let action = action.to_string();
        // The port a URL without one means; the grant must name it.
        let default_port = match uri.scheme_str() {
            Some("http") => 80,
            Some("https") => 443,
            _ => {
                return Err(self.denial(
                    action,
                    "only http:// and https:// URLs are supported".into(),
                    None,
                ));
            }
        };
        let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
            return Err(self.denial(action, "the URL has no host".into(), None));
        };
        let port = uri.port_u16().unwrap_or(default_port);
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let Ok(ip) = inner.parse::<Ipv6Addr>() else {
                return Err(self.denial(action, "the URL's IPv6 host is invalid".into(), None));
            };
            let addr = SocketAddr::new(IpAddr::V6(ip), port);
            self.check_remote(action, addr)?;
            return Ok((HttpHost::Ip(IpAddr::V6(ip)), port));
        }
        if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
            let addr = SocketAddr::new(IpAddr::V4(ip), port);
            self.check_remote(action, addr)?;
            return Ok((HttpHost::Ip(IpAddr::V4(ip)), port));
        }
        if let Some(ip) = loose_ipv4(host) {
            let canonical = SocketAddr::new(IpAddr::V4(ip), port);
            let what = format!("`{}`", inert(host));
            return Err(self.spelling_denial(action, &what, canonical));
        }
        let name = host.to_ascii_lowercase();
        if !self.names.contains(&name) {
            let shown = inert(host);
            return Err(self.denial(
                action,
                format!(
                    "`{shown}` is not a name in the plugin's network grant (names outside it are not even looked up)"
                ),
                Some(format!("{shown}:{port}")),
            ));
        }
        Ok((HttpHost::Name(name), port))
    }

    /// After resolving a granted name: the candidates the grant allows, in
    /// the resolver's order. Denied if none is.
    pub fn check_resolved(
        &self,
        action: &str,
        name: &str,
        port: u16,
        candidates: &[SocketAddr],
    ) -> Result<Vec<SocketAddr>, NetDenial> {
        let normalized: Vec<SocketAddr> = candidates
            .iter()
            .map(|a| SocketAddr::new(normalize(a.ip()), port))
            .collect();
        let allowed: Vec<SocketAddr> = normalized
            .iter()
            .copied()
            .filter(|a| self.is_allowed(*a))
            .collect();
        if !allowed.is_empty() {
            return Ok(allowed);
        }
        let mut reason = format!("`{}` now resolves to ", inert(name));
        if normalized.is_empty() {
            reason.push_str("nothing");
        } else {
            let shown: Vec<String> = normalized.iter().map(|a| show_addr(*a)).collect();
            reason.push_str(&shown.join(", "));
        }
        let _ = write!(
            reason,
            ", none of which the grant allows (it was resolved when the plugin was loaded; reload the plugin if the name moved)"
        );
        Err(self.denial(action.to_string(), reason, Some(format!("{name}:{port}"))))
    }

    /// One log line for a denial: the plugin, the operation, the reason and
    /// the manifest line that would allow it.
    pub fn render(&self, denial: &NetDenial) -> String {
        let mut line = format!(
            "network access denied to plugin `{}`: {}: {}",
            self.plugin, denial.action, denial.reason
        );
        match &denial.allow_with {
            Some(entry) => {
                let _ = write!(
                    line,
                    "; to allow it, add \"{entry}\" to [grants] network in `{}`",
                    self.manifest.display()
                );
            }
            None => line.push_str("; no grant allows this"),
        }
        line
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; other addresses unchanged.
pub fn normalize(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// `1.2.3.4:80`, `[::1]:80`.
fn show_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// The network kind (`[grants] network`, with its `tls-roots`), for `host
/// plugins list|check|inspect`.
/// The `network` entries under `key` (a manifest's `grants.network`, an
/// admin's `<plugin>.network`), parsed; the first malformed or repeated
/// entry is refused.
pub(crate) fn parse_entries(
    key: &str,
    entries: &[String],
) -> Result<Vec<NetworkGrant>, super::capability::KeyProblem> {
    use super::capability::KeyProblem;
    let mut network: Vec<NetworkGrant> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let grant =
            crate::network_grant::parse_network_entry(entry).map_err(|(message, hint)| {
                KeyProblem::new(
                    format!("key `{key}[{i}]`: `{}` {message}", inert(entry)),
                    hint,
                )
            })?;
        if network.contains(&grant) {
            return Err(KeyProblem::new(
                format!("key `{key}[{i}]`: `{}` is listed twice", inert(entry)),
                "grant each host:port once",
            ));
        }
        network.push(grant);
    }
    Ok(network)
}

pub(crate) struct NetworkKind;

impl super::capability::Capability for NetworkKind {
    fn key(&self) -> &'static str {
        "grants.network"
    }

    fn granted(&self, m: &crate::manifest::Manifest) -> bool {
        !m.grants.network.is_empty()
    }

    /// `no network`, or `network host:port, ...` and the extra TLS roots its
    /// `https://` requests trust, if any.
    fn summary(
        &self,
        m: &crate::manifest::Manifest,
        _resolved: Option<&super::ResolvedGrants>,
    ) -> Vec<String> {
        if m.grants.network.is_empty() {
            return vec!["no network".to_string()];
        }
        let entries: Vec<String> = m.grants.network.iter().map(ToString::to_string).collect();
        let mut summary = format!("network {}", inert(&entries.join(", ")));
        if !m.grants.tls_roots.is_empty() {
            let roots: Vec<String> = m
                .grants
                .tls_roots
                .iter()
                .map(|p| crate::render::inert_path(p))
                .collect();
            summary.push_str(&format!(" (extra TLS roots: {})", roots.join(", ")));
        }
        vec![summary]
    }

    fn json(
        &self,
        m: &crate::manifest::Manifest,
        _resolved: &super::ResolvedGrants,
    ) -> super::capability::JsonFields {
        let network: Vec<String> = m.grants.network.iter().map(ToString::to_string).collect();
        vec![
            ("network", serde_json::json!(network)),
            ("tls_roots", serde_json::json!(m.grants.tls_roots)),
        ]
    }

    /// Without a network grant every connection a socket or http import
    /// tries is denied: the import is dead weight or a sign of a mistake.
    fn warnings(&self, m: &crate::manifest::Manifest, imports: &[String]) -> Vec<String> {
        if !m.grants.network.is_empty() {
            return Vec::new();
        }
        let network: Vec<String> = imports
            .iter()
            .filter(|i| i.starts_with("wasi:sockets/") || i.starts_with("wasi:http/"))
            .map(|i| format!("`{i}`"))
            .collect();
        if network.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "the component imports {}, but its manifest grants no network: every connection it tries will be denied\nhint: if the plugin needs the network, grant the host:port it talks to in `[grants] network`; otherwise drop the dependency that pulls in sockets or http (a Python component built with componentize-py always imports wasi:sockets, through its C library: for it this warning is expected)",
            network.join(", ")
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn grant(host: NetHost, port: u16) -> NetworkGrant {
        NetworkGrant { host, port }
    }

    fn localhost_v4(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    }

    /// `db.internal` resolves to 10.0.0.5 (as IPv4-mapped, as some resolvers
    /// answer); every other name fails.
    fn fake_resolver(name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        match name {
            "db.internal" => Ok(vec![SocketAddr::new(
                IpAddr::V6(Ipv4Addr::new(10, 0, 0, 5).to_ipv6_mapped()),
                port,
            )]),
            _ => Err(std::io::Error::other("no such host")),
        }
    }

    fn policy(entries: &[NetworkGrant]) -> NetPolicy {
        NetPolicy::resolve(
            "probe",
            PathBuf::from("/plugins/probe/plugin.toml"),
            entries,
            &fake_resolver,
        )
        .expect("resolves")
    }

    fn granted() -> NetPolicy {
        policy(&[
            grant(NetHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)), 8080),
            grant(NetHost::Name("db.internal".into()), 5432),
            grant(NetHost::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), 9000),
        ])
    }

    #[test]
    fn resolution_normalizes_mapped_addresses() {
        let allowed: Vec<String> = granted().allowed().map(|a| a.to_string()).collect();
        assert_eq!(allowed, ["10.0.0.5:5432", "127.0.0.1:8080", "[::1]:9000"]);
    }

    #[test]
    fn an_unresolvable_name_fails_resolution_naming_the_entry() {
        let e = NetPolicy::resolve(
            "probe",
            PathBuf::from("/p/plugin.toml"),
            &[
                grant(NetHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)), 1),
                grant(NetHost::Name("nowhere.invalid".into()), 80),
            ],
            &fake_resolver,
        )
        .expect_err("unresolvable");
        assert_eq!((e.index, e.entry.as_str()), (1, "nowhere.invalid:80"));
    }

    #[test]
    fn connects_and_sends_only_to_granted_address_and_port() {
        let p = granted();
        for usage in [
            SocketAddrUse::TcpConnect,
            SocketAddrUse::UdpSend,
            SocketAddrUse::UdpReceive,
        ] {
            assert_eq!(p.check_socket(localhost_v4(8080), usage), Ok(()));
            assert_eq!(
                p.check_socket("10.0.0.5:5432".parse().expect("addr"), usage),
                Ok(())
            );
            assert_eq!(
                p.check_socket("[::1]:9000".parse().expect("addr"), usage),
                Ok(())
            );
            for denied in [
                "127.0.0.1:8081",
                "127.0.0.2:8080",
                "[::1]:8080",
                "10.0.0.5:80",
            ] {
                let d = p
                    .check_socket(denied.parse().expect("addr"), usage)
                    .expect_err(denied);
                assert_eq!(d.allow_with.as_deref(), Some(denied), "{d:?}");
            }
        }
    }

    #[test]
    fn mapped_spelling_is_denied_even_when_the_ipv4_address_is_granted() {
        let p = granted();
        let d = p
            .check_socket(
                "[::ffff:127.0.0.1]:8080".parse().expect("addr"),
                SocketAddrUse::TcpConnect,
            )
            .expect_err("mapped");
        assert_eq!(d.action, "tcp connect [::ffff:127.0.0.1]:8080");
        assert!(
            d.reason.contains("another spelling of 127.0.0.1:8080"),
            "{d:?}"
        );
        assert_eq!(d.allow_with, None);
    }

    #[test]
    fn binding_is_limited_to_the_implicit_ephemeral_bind_and_listening_is_denied() {
        let p = granted();
        for ok in ["0.0.0.0:0", "[::]:0"] {
            let addr: SocketAddr = ok.parse().expect("addr");
            assert_eq!(p.check_socket(addr, SocketAddrUse::TcpBind), Ok(()));
            assert_eq!(p.check_socket(addr, SocketAddrUse::UdpBind), Ok(()));
        }
        for bad in ["0.0.0.0:8080", "127.0.0.1:0", "127.0.0.1:8080"] {
            let addr: SocketAddr = bad.parse().expect("addr");
            assert!(
                p.check_socket(addr, SocketAddrUse::TcpBind).is_err(),
                "{bad}"
            );
            assert!(
                p.check_socket(addr, SocketAddrUse::UdpBind).is_err(),
                "{bad}"
            );
        }
        let any: SocketAddr = "0.0.0.0:0".parse().expect("addr");
        let d = p
            .check_socket(any, SocketAddrUse::TcpListen)
            .expect_err("listen");
        assert!(d.reason.contains("listening is never granted"), "{d:?}");
        assert!(
            p.check_socket(localhost_v4(8080), SocketAddrUse::TcpAccept)
                .is_err()
        );
    }

    #[test]
    fn nothing_granted_denies_every_remote_address() {
        let p = NetPolicy::deny_all("probe", PathBuf::from("/p/plugin.toml"));
        assert!(
            p.check_socket(localhost_v4(80), SocketAddrUse::TcpConnect)
                .is_err()
        );
        assert!(p.check_lookup("localhost").is_err());
        assert!(!p.has_names());
    }

    #[test]
    fn lookups_only_for_granted_names() {
        let p = granted();
        assert_eq!(p.check_lookup("db.internal"), Ok(()));
        assert_eq!(p.check_lookup("DB.Internal"), Ok(()));
        assert_eq!(p.check_lookup("127.0.0.1"), Ok(()));
        let d = p
            .check_lookup("c2VjcmV0.attacker.example")
            .expect_err("not granted");
        assert_eq!(d.action, "dns lookup `c2VjcmV0.attacker.example`");
        let d = p.check_lookup("x\u{1b}[2J").expect_err("not granted");
        assert!(!d.action.contains('\u{1b}'), "{d:?}");
    }

    fn uri(s: &str) -> http::Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn http_targets_accept_canonical_granted_hosts() {
        let p = granted();
        assert_eq!(
            p.http_target("a", &uri("http://127.0.0.1:8080/x")),
            Ok((HttpHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)), 8080))
        );
        assert_eq!(
            p.http_target("a", &uri("http://[::1]:9000/")),
            Ok((HttpHost::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), 9000))
        );
        assert_eq!(
            p.http_target("a", &uri("http://DB.internal:5432/")),
            Ok((HttpHost::Name("db.internal".into()), 5432))
        );
    }

    #[test]
    fn http_bypass_spellings_are_denied_with_the_canonical_form() {
        let p = granted();
        for url in [
            "http://2130706433:8080/",
            "http://0x7f000001:8080/",
            "http://127.1:8080/",
            "http://0177.0.0.1:8080/",
            "http://[::ffff:127.0.0.1]:8080/",
        ] {
            let d = p.http_target("a", &uri(url)).expect_err(url);
            assert!(
                d.reason.contains("another spelling of 127.0.0.1:8080"),
                "{url}: {d:?}"
            );
        }
    }

    #[test]
    fn http_denies_other_ports_hosts_names_and_schemes() {
        let p = granted();
        for (url, needle) in [
            (
                "http://127.0.0.1:8081/",
                "not in the plugin's network grant",
            ),
            ("http://127.0.0.1/", "not in the plugin's network grant"),
            (
                "http://localhost:8080/",
                "not a name in the plugin's network grant",
            ),
            ("https://127.0.0.1/", "not in the plugin's network grant"),
            ("ftp://127.0.0.1:8080/", "only http:// and https://"),
        ] {
            let d = p.http_target("a", &uri(url)).expect_err(url);
            assert!(d.reason.contains(needle), "{url}: {d:?}");
        }
        let d = p
            .http_target("a", &uri("http://127.0.0.1/"))
            .expect_err("port 80");
        assert_eq!(d.allow_with.as_deref(), Some("127.0.0.1:80"));
        // https means port 443, which the grant must name like any other.
        // (A granted name's port is checked once it is resolved.)
        assert_eq!(
            p.http_target("a", &uri("https://db.internal/")),
            Ok((HttpHost::Name("db.internal".into()), 443))
        );
        let d = p
            .http_target("a", &uri("https://127.0.0.1/"))
            .expect_err("port 443");
        assert_eq!(d.allow_with.as_deref(), Some("127.0.0.1:443"));
        assert_eq!(
            p.http_target("a", &uri("https://127.0.0.1:8080/")),
            Ok((HttpHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)), 8080))
        );
    }

    #[test]
    fn a_granted_name_that_resolves_elsewhere_is_denied() {
        let p = granted();
        let moved: SocketAddr = "10.9.9.9:5432".parse().expect("addr");
        let d = p
            .check_resolved(
                "http GET http://db.internal:5432/",
                "db.internal",
                5432,
                &[moved],
            )
            .expect_err("moved");
        assert!(d.reason.contains("now resolves to 10.9.9.9:5432"), "{d:?}");
        // Mapped answers are normalized; only allowed candidates are kept.
        let mapped = SocketAddr::new(
            IpAddr::V6(Ipv4Addr::new(10, 0, 0, 5).to_ipv6_mapped()),
            5432,
        );
        assert_eq!(
            p.check_resolved("a", "db.internal", 5432, &[moved, mapped]),
            Ok(vec!["10.0.0.5:5432".parse().expect("addr")])
        );
    }

    #[test]
    fn denial_lines_name_plugin_action_and_the_entry_to_add() {
        let p = granted();
        let d = p
            .check_socket(localhost_v4(9), SocketAddrUse::TcpConnect)
            .expect_err("denied");
        assert_eq!(
            p.render(&d),
            "network access denied to plugin `probe`: tcp connect 127.0.0.1:9: the address is not in the plugin's network grant; \
             to allow it, add \"127.0.0.1:9\" to [grants] network in `/plugins/probe/plugin.toml`"
        );
    }
}
