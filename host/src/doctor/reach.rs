//! Each network grant, probed from this machine: its host resolves, some
//! address accepts a TCP connection, and where the plugin speaks `https://`
//! to it (port 443, or an `https://` URL in its environment settings) a TLS
//! handshake completes, verified for the granted name with the plugin's own
//! trust roots, exactly as its requests would be.
//!
//! A gap in a plugin the folder's workflow does not use is a warning: the
//! workflow can still run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::plugins::{self, Folder};
use super::{Area, Finding, Status};
use crate::grants::tls;
use crate::manifest::{Manifest, NetHost, NetworkGrant};
use crate::render::inert_path;
use crate::workflow::{self, WORKFLOW_FILE};

pub async fn check(folder: &Folder, timeout: Duration) -> Vec<Finding> {
    let plugins = folder.plugins();
    let used: Option<Vec<String>> = workflow::load(&folder.dir.join(WORKFLOW_FILE), &plugins)
        .ok()
        .map(|w| {
            let mut names: Vec<String> = w.steps.iter().map(|s| s.plugin.clone()).collect();
            names.extend(w.reviewer().map(str::to_string));
            names
        });
    let mut findings = Vec::new();
    for m in &plugins {
        let https_entries: Vec<String> = plugins::urls(m)
            .into_iter()
            .filter(|u| u.https)
            .map(|u| u.entry)
            .collect();
        let in_workflow = used.as_ref().is_none_or(|names| names.contains(&m.name));
        for entry in &m.grants.network {
            let https = entry.port == 443 || https_entries.contains(&entry.to_string());
            let mut finding = probe(m, entry, https, timeout).await;
            if finding.status == Status::Missing && !in_workflow {
                finding.status = Status::Warning;
                finding
                    .detail
                    .push_str(" (the plugin is not used by the folder's workflow.toml)");
            }
            findings.push(finding);
        }
    }
    findings
}

async fn probe(m: &Manifest, entry: &NetworkGrant, https: bool, timeout: Duration) -> Finding {
    let subject = format!("{}: {entry}", m.name);
    let fix_grant = format!(
        "start the service, or correct the entry in [grants] network of `{}`",
        inert_path(&m.path)
    );
    let gap = |detail: String, fix: String| {
        Finding::gap(Area::Network, Status::Missing, subject.clone(), detail, fix)
    };
    let candidates: Vec<SocketAddr> = match &entry.host {
        NetHost::Ip(ip) => vec![SocketAddr::new(*ip, entry.port)],
        NetHost::Name(name) => {
            match tokio::time::timeout(
                timeout,
                tokio::net::lookup_host((name.as_str(), entry.port)),
            )
            .await
            {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(e)) => {
                    return gap(
                        format!("`{name}` does not resolve: {e}"),
                        "check the name and this machine's resolver, or grant the IP address instead".into(),
                    );
                }
                Err(_) => {
                    return gap(
                        format!("resolving `{name}` timed out"),
                        "check this machine's resolver, or grant the IP address instead".into(),
                    );
                }
            }
        }
    };
    let mut failures = Vec::new();
    let mut connected = None;
    for addr in &candidates {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                connected = Some((stream, *addr));
                break;
            }
            Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
            Err(_) => failures.push(format!("{addr}: timed out after {}s", timeout.as_secs())),
        }
    }
    let Some((stream, addr)) = connected else {
        let why = if failures.is_empty() {
            "it resolves to no address".to_string()
        } else {
            failures.join("; ")
        };
        return gap(format!("does not accept TCP connections: {why}"), fix_grant);
    };
    if !https {
        return Finding::ok(
            Area::Network,
            subject,
            format!("{addr} accepts TCP connections"),
        );
    }
    let config = match tls::resolve(m) {
        Ok(config) => config,
        Err(e) => {
            return gap(
                e.to_string(),
                "fix the trust roots file as the error says".into(),
            );
        }
    };
    let server_name = match &entry.host {
        NetHost::Ip(ip) => ServerName::IpAddress((*ip).into()),
        NetHost::Name(name) => match ServerName::try_from(name.clone()) {
            Ok(n) => n,
            Err(e) => return gap(format!("`{name}` is not a TLS server name: {e}"), fix_grant),
        },
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&config));
    match tokio::time::timeout(timeout, connector.connect(server_name, stream)).await {
        Ok(Ok(_)) => Finding::ok(
            Area::Network,
            subject,
            format!(
                "{addr} accepts TCP and a verified TLS handshake for `{}`",
                match &entry.host {
                    NetHost::Ip(ip) => ip.to_string(),
                    NetHost::Name(name) => name.clone(),
                }
            ),
        ),
        Ok(Err(e)) => {
            let (failure, detail) = tls::classify(&e);
            gap(
                format!(
                    "TLS handshake with {addr} failed: {} ({detail})",
                    failure.name()
                ),
                failure.remedy(&m.path),
            )
        }
        Err(_) => gap(
            format!(
                "{addr} accepted TCP but no TLS handshake within {}s",
                timeout.as_secs()
            ),
            "check that the service serves TLS on that port".into(),
        ),
    }
}
