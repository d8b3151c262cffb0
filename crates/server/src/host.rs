//! The Host allow-list, against DNS rebinding.
//!
//! A web page on `evil.example` can point its own name at 127.0.0.1 after the
//! browser loaded it, then read `http://evil.example:9477/api/v1/...` as the
//! same origin: the browser talks to blindspot, but sends `Host: evil.example`.
//! Answering only to names that are this server's own closes that hole.
//!
//! Allowed are:
//! - `localhost` and every loopback IP literal (`127.0.0.1`, `[::1]`);
//! - the IP the connection was accepted on (when listening on a specific IP
//!   that is the listen address; on `0.0.0.0` it is the interface's address),
//!   so scraping `http://10.0.0.5:9477/metrics` works without configuration;
//! - the names and IPs in [`ServerConfig::allowed_hosts`](crate::ServerConfig).
//!
//! The port is ignored, and names compare case-insensitively with one trailing
//! dot dropped. An IP literal can never be a rebinding attack (the page's
//! origin would then be blindspot itself), so only names need configuring.
//!
//! A request that carries no Host header (HTTP/1.0, or a hand-written HTTP/1.1
//! request) is served: browsers always send Host and scripts cannot remove it,
//! so such a request cannot come through rebinding. Every authority a request
//! names is checked: each Host header, and the authority of an absolute-form
//! request target (`GET http://evil.example/ HTTP/1.1`). Anything else is
//! answered `421 Misdirected Request` in the JSON error shape.

use crate::error::error_response;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The local address of the connection a request arrived on; `serve` puts it
/// into every request's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalAddr(pub(crate) SocketAddr);

/// A host as the allow-list compares it: an IP, or a lower-case name without
/// a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Why an `allowed_hosts` entry is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("allowed_hosts entry `{entry}` is not usable: {reason}")]
pub struct InvalidAllowedHost {
    /// The entry as configured.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The allow-list of one server.
#[derive(Debug, Clone)]
pub(crate) struct AllowedHosts {
    configured: Vec<Host>,
    /// The listen IP, if it is a specific one; used when a request carries no
    /// [`LocalAddr`] (tests through `oneshot`).
    listen: Option<IpAddr>,
}

impl AllowedHosts {
    /// The allow-list for `entries` and `listen`. Unusable entries are
    /// skipped with a warning here; `serve` refuses them before this point
    /// (see [`ServerConfig::validate`](crate::ServerConfig::validate)).
    pub(crate) fn new(entries: &[String], listen: SocketAddr) -> Self {
        let configured = entries
            .iter()
            .filter_map(|entry| match parse_entry(entry) {
                Ok(host) => Some(host),
                Err(err) => {
                    tracing::warn!(error = %err, "ignoring an allowed_hosts entry");
                    None
                }
            })
            .collect();
        let listen = Some(listen.ip().to_canonical()).filter(|ip| !ip.is_unspecified());
        AllowedHosts { configured, listen }
    }

    fn allows(&self, host: &Host, local: Option<IpAddr>) -> bool {
        match host {
            Host::Name(name) if name == "localhost" => true,
            Host::Ip(ip) if ip.is_loopback() => true,
            Host::Ip(ip) if Some(*ip) == local.or(self.listen) => true,
            other => self.configured.contains(other),
        }
    }
}

/// Checks that `entry` can be an `allowed_hosts` entry: a host name or an IP
/// address (IPv6 with or without brackets), without scheme, port or path.
pub fn check_allowed_host(entry: &str) -> Result<(), InvalidAllowedHost> {
    parse_entry(entry).map(|_| ())
}

fn parse_entry(entry: &str) -> Result<Host, InvalidAllowedHost> {
    let invalid = |reason| InvalidAllowedHost {
        entry: entry.to_owned(),
        reason,
    };
    // A bare IPv6 address is natural to write in a config file, though it
    // could never appear in a Host header without brackets.
    if let Ok(ip) = entry.parse::<Ipv6Addr>() {
        return Ok(Host::Ip(IpAddr::V6(ip).to_canonical()));
    }
    match parse_authority(entry) {
        Some((host, None)) => Ok(host),
        Some((_, Some(_))) => Err(invalid(
            "give the name without a port; requests on any port match",
        )),
        None => Err(invalid(
            "expected a host name or an IP address, without scheme or path",
        )),
    }
}

/// Parses a Host header value, `host[:port]`, where host is a name, an IPv4
/// address or a bracketed IPv6 address. `None` if it is none of these.
fn parse_authority(value: &str) -> Option<(Host, Option<&str>)> {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip = inside.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (Host::Ip(IpAddr::V6(ip).to_canonical()), port)
    } else {
        let (name, port) = match value.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (value, None),
        };
        (parse_name(name)?, port)
    };
    // RFC 3986 allows an empty port ("localhost:").
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        p.parse::<u16>().ok()?;
    }
    Some((host, port.filter(|p| !p.is_empty())))
}

fn parse_name(name: &str) -> Option<Host> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Some(Host::Ip(ip.to_canonical()));
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then(|| Host::Name(name.to_ascii_lowercase()))
}

/// The middleware: answers 421 unless every authority the request names is
/// allowed.
pub(crate) async fn check(
    State(allowed): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let local = request
        .extensions()
        .get::<LocalAddr>()
        .map(|LocalAddr(addr)| addr.ip().to_canonical());
    let from_uri = request.uri().authority().map(|a| a.as_str().as_bytes());
    let from_headers = request
        .headers()
        .get_all(header::HOST)
        .iter()
        .map(|v| v.as_bytes());
    for value in from_uri.into_iter().chain(from_headers) {
        let text = String::from_utf8_lossy(value);
        let allowed_here =
            parse_authority(&text).is_some_and(|(host, _)| allowed.allows(&host, local));
        if !allowed_here {
            tracing::debug!(host = %text, "refused a request for a host that is not this server");
            return error_response(
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected_request",
                format!(
                    "this server does not answer to the host `{}`; use localhost, its IP \
                     address, or a name listed in [server] allowed_hosts",
                    text.escape_debug()
                ),
            );
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn name(n: &str) -> Host {
        Host::Name(n.to_owned())
    }

    #[test]
    fn parses_host_header_values() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        for (value, expected) in [
            ("localhost", Some((name("localhost"), None))),
            ("LocalHost:9477", Some((name("localhost"), Some("9477")))),
            ("localhost.:9477", Some((name("localhost"), Some("9477")))),
            ("localhost:", Some((name("localhost"), None))),
            ("127.0.0.1:80", Some((Host::Ip(v4), Some("80")))),
            (
                "[::1]:9477",
                Some((Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), Some("9477"))),
            ),
            ("[::ffff:127.0.0.1]", Some((Host::Ip(v4), None))),
            ("::1", None),
            ("[::1", None),
            ("[::1]x", None),
            ("localhost:99999", None),
            ("localhost:http", None),
            ("user@localhost", None),
            ("", None),
            (":9477", None),
            ("evil example", None),
        ] {
            assert_eq!(parse_authority(value), expected, "{value:?}");
        }
    }

    #[test]
    fn checks_configured_entries() {
        assert_eq!(
            parse_entry("Blindspot.Example.").ok(),
            Some(name("blindspot.example"))
        );
        assert_eq!(
            parse_entry("fd00::5").ok(),
            Some(Host::Ip("fd00::5".parse().unwrap()))
        );
        assert!(parse_entry("[fd00::5]").is_ok());
        for bad in [
            "",
            "*",
            "https://blindspot.example",
            "blindspot.example:9477",
            "a/b",
        ] {
            assert!(check_allowed_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn allows_loopback_the_local_ip_and_configured_names() {
        let listen: SocketAddr = ([0, 0, 0, 0], 9477).into();
        let allowed = AllowedHosts::new(&["blindspot.example".to_owned()], listen);
        let local = Some(IpAddr::from([10, 0, 0, 5]));
        let allows = |value: &str| {
            parse_authority(value).is_some_and(|(host, _)| allowed.allows(&host, local))
        };
        assert!(allows("localhost"));
        assert!(allows("127.0.0.2:1"));
        assert!(allows("[::1]"));
        assert!(allows("10.0.0.5:9477"));
        assert!(allows("BLINDSPOT.example:443"));
        assert!(!allows("10.0.0.6"));
        assert!(!allows("evil.example"));
        assert!(!allows("blindspot.example.evil.example"));
        assert!(!allows("sub.localhost"));
        // Without a connection (oneshot), a wildcard listen allows no IP.
        assert!(!parse_authority("10.0.0.5").is_some_and(|(host, _)| allowed.allows(&host, None)));
    }
}
