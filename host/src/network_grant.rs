//! A `[grants] network` entry (`host:port`), parsed strictly, and the
//! spelling rules for host names and addresses it is checked with: canonical
//! IP literals only, DNS names by RFC 1123 rules, and [`loose_ipv4`] for the
//! numbers a C resolver would read as an IPv4 address (refused in a
//! manifest, and refused again at run time by [`crate::grants::net`] when a
//! guest asks for such a name).
//!
//! Shared by the manifest, the admin's grants file and the network policy,
//! so each spells an entry the same way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One `[grants] network` entry: a host and the one port of it the plugin
/// may reach. Checked against the *resolved* addresses at run time (see
/// [`crate::grants::net`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkGrant {
    /// The host: a name or an IP address.
    pub host: NetHost,
    /// The one port the plugin may reach on it.
    pub port: u16,
}

/// The host of a network grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetHost {
    /// An IP literal, written canonically in the manifest.
    Ip(IpAddr),
    /// A DNS name, lowercase, resolved by the system resolver.
    Name(String),
}

impl std::fmt::Display for NetworkGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            NetHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            NetHost::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            NetHost::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

const NETWORK_HINT: &str = "write `host:port`: an IPv4 address such as \"127.0.0.1:8080\", a bracketed IPv6 address such as \"[::1]:9000\", or a DNS name such as \"localhost:11434\"";

/// Parse one `[grants] network` entry. On error, returns what is wrong (to
/// follow the quoted entry) and a hint.
pub fn parse_network_entry(entry: &str) -> Result<NetworkGrant, (String, String)> {
    let fail = |message: &str, hint: String| Err((message.to_string(), hint));
    if entry.is_empty() {
        return fail("is empty", NETWORK_HINT.into());
    }
    if entry.contains("://") {
        return fail(
            "is a URL",
            format!("give only the host and port, without scheme or path; {NETWORK_HINT}"),
        );
    }
    if entry.contains('*') {
        return fail(
            "has a wildcard",
            "wildcards are not supported: list each host:port the plugin needs".into(),
        );
    }
    if entry
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '@' | '\\'))
    {
        return fail("is not a plain host:port", NETWORK_HINT.into());
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return fail("has an unclosed `[`", NETWORK_HINT.into());
        };
        let Some(port) = after.strip_prefix(':') else {
            return fail(
                "has no port",
                format!("add the port, e.g. \"[{inner}]:80\""),
            );
        };
        let port = parse_port(port)?;
        let Ok(ip) = inner.parse::<Ipv6Addr>() else {
            return fail("is not a valid IPv6 address", NETWORK_HINT.into());
        };
        if let Some(v4) = ip.to_ipv4_mapped() {
            return fail(
                "is an IPv4 address written as IPv4-mapped IPv6",
                format!("write it as \"{v4}:{port}\""),
            );
        }
        if ip.to_string() != inner {
            return fail(
                "is not written in canonical form",
                format!("write it as \"[{ip}]:{port}\""),
            );
        }
        (NetHost::Ip(IpAddr::V6(ip)), port)
    } else {
        let Some((host, port)) = entry.rsplit_once(':') else {
            return fail("has no port", format!("add the port, e.g. \"{entry}:80\""));
        };
        if host.contains(':') {
            return fail(
                "has an IPv6 address without brackets",
                "write an IPv6 address in brackets followed by the port, e.g. \"[::1]:8080\""
                    .into(),
            );
        }
        let port = parse_port(port)?;
        (parse_net_host(host, port)?, port)
    };
    if let NetHost::Ip(ip) = host
        && ip.is_unspecified()
    {
        return fail(
            "names the unspecified address, which reaches every local service",
            "name the one address the plugin needs, e.g. \"127.0.0.1:8080\"".into(),
        );
    }
    Ok(NetworkGrant { host, port })
}

fn parse_port(port: &str) -> Result<u16, (String, String)> {
    let valid = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && !port.starts_with('0');
    match port.parse::<u16>() {
        Ok(p) if valid && p > 0 => Ok(p),
        _ => Err((
            format!("has port `{port}`, which is not a port number"),
            "give a port from 1 to 65535, in decimal without leading zeros".into(),
        )),
    }
}

/// The host part of an entry without brackets: a canonical IPv4 address or a
/// DNS name. Other spellings of IPv4 addresses (`127.1`, `2130706433`,
/// `0x7f000001`, `0177.0.0.1`) are refused with the canonical form, so the
/// manifest says plainly which address it grants.
fn parse_net_host(host: &str, port: u16) -> Result<NetHost, (String, String)> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(NetHost::Ip(IpAddr::V4(ip)));
    }
    if let Some(ip) = loose_ipv4(host) {
        return Err((
            format!("spells the IPv4 address {ip} in an unusual way"),
            format!("write it in canonical form: \"{ip}:{port}\""),
        ));
    }
    match check_dns_name(host) {
        Ok(name) => Ok(NetHost::Name(name)),
        Err(why) => Err((
            format!("has an invalid host: {why}"),
            NETWORK_HINT.to_string(),
        )),
    }
}

/// A DNS name as a grant may name it: ASCII letters, digits and `-` in
/// labels of 1 to 63 characters, at most 253 in all, not ending in a number
/// (that would be read as an IPv4 address). Returned in lowercase.
pub(crate) fn check_dns_name(host: &str) -> Result<String, &'static str> {
    if host.is_empty() {
        return Err("the host is empty");
    }
    if host.len() > 253 {
        return Err("the name is longer than 253 characters");
    }
    if host.ends_with('.') {
        return Err("the name ends in `.`");
    }
    let mut last = "";
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("a label is empty or longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(
                "names use only ASCII letters, digits, `-` and `.` (write IDNs in punycode)",
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with `-`");
        }
        last = label;
    }
    if last.bytes().all(|b| b.is_ascii_digit())
        || (last.len() > 1 && last[..2].eq_ignore_ascii_case("0x"))
    {
        return Err("it looks like a number, not a name or a valid IPv4 address");
    }
    Ok(host.to_ascii_lowercase())
}

/// The IPv4 address that `inet_aton` (and so many URL parsers and C
/// resolvers) would read in `host`: one to four parts, each decimal, octal
/// with a leading `0`, or hex with `0x`; the last part fills the remaining
/// bytes. `None` if `host` is not such a number.
pub(crate) fn loose_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    // A trailing dot is accepted by inet_aton-style parsers too.
    let parts = match parts.split_last() {
        Some((last, rest)) if last.is_empty() && !rest.is_empty() => rest.to_vec(),
        _ => parts,
    };
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if digits.is_empty() && radix == 16 {
            values.push(0u64);
            continue;
        }
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        values.push(u64::from_str_radix(digits, radix).ok()?);
    }
    let (last, init) = values.split_last()?;
    if init.iter().any(|v| *v > 255) {
        return None;
    }
    let remaining_bytes = 4 - init.len() as u32;
    if *last >= 1u64 << (8 * remaining_bytes) {
        return None;
    }
    let mut addr: u64 = 0;
    for (i, v) in init.iter().enumerate() {
        addr |= v << (8 * (3 - i as u32));
    }
    addr |= last;
    Some(Ipv4Addr::from(u32::try_from(addr).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_ipv4_reads_what_inet_aton_reads() {
        let localhost = Some(Ipv4Addr::new(127, 0, 0, 1));
        for spelling in [
            "127.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "0x7f.1",
            "127.0.0.1.",
        ] {
            assert_eq!(loose_ipv4(spelling), localhost, "{spelling}");
        }
        for not_a_number in [
            "example.com",
            "1.2.3.4.5",
            "256.1.1.1",
            "08.1.1.1",
            "",
            "1..1",
        ] {
            assert_eq!(loose_ipv4(not_a_number), None, "{not_a_number}");
        }
    }
}
