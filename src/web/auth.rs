//! Who may talk to the web UI. Three checks run before any handler:
//!
//! 1. `Host` must name this server (`127.0.0.1:P`, `localhost:P`, `[::1]:P` on loopback,
//!    the bound address otherwise; anything on a wildcard bind, which needs a token
//!    anyway). A page on another site that rebinds its DNS name to 127.0.0.1 is refused.
//! 2. With a token (the default: `cafleet web` makes a random one unless `--no-token`),
//!    every request carries it: `Authorization: Bearer T`, or the `cafleet_token`
//!    cookie (HttpOnly, SameSite=Strict), which `?token=T` on a first visit sets (then
//!    redirects to the same URL without it, so the token does not stay in the address
//!    bar).
//! 3. Every request that changes state (anything but GET/HEAD) must come from this
//!    origin: an `Origin` header, when sent, must be `http://` + the `Host`; a browser's
//!    `Sec-Fetch-Site` must be `same-origin` or `none`. Otherwise 403: another site
//!    open in the operator's browser cannot post messages.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::State as AppState;

pub const COOKIE: &str = "cafleet_token";

/// The `Host` values this server answers to.
#[derive(Debug, Clone)]
pub enum HostPolicy {
    /// A wildcard bind (`0.0.0.0`, `::`): the host cannot be known; the token guards it.
    Any,
    Exact(Vec<String>),
}

impl HostPolicy {
    pub fn new(bind: IpAddr, port: u16) -> HostPolicy {
        if bind.is_unspecified() {
            return HostPolicy::Any;
        }
        let mut hosts = vec![match bind {
            IpAddr::V4(ip) => format!("{ip}:{port}"),
            IpAddr::V6(ip) => format!("[{ip}]:{port}"),
        }];
        if bind.is_loopback() {
            for name in ["127.0.0.1", "localhost", "[::1]"] {
                let host = format!("{name}:{port}");
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
        HostPolicy::Exact(hosts)
    }

    pub fn allows(&self, host: &str) -> bool {
        match self {
            HostPolicy::Any => true,
            HostPolicy::Exact(hosts) => hosts.iter().any(|h| h.eq_ignore_ascii_case(host)),
        }
    }
}

/// A fresh random token: 128 bits from the kernel's generator, as 32 hex digits.
pub fn random_token() -> crate::error::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|err| {
            crate::error::Error::failure(format!("cannot read /dev/urandom for a token: {err}"))
                .hint("pass --token T yourself")
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn refuse(status: StatusCode, message: &str, hint: &str) -> Response {
    let body = serde_json::json!({ "error": message, "hints": [hint] });
    (status, axum::Json(body)).into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Compares without stopping at the first difference, so timing says nothing about
/// how much of a guess was right.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    header_str(headers, header::AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer "))
}

/// `?token=T` from a query string, and the query string without it.
fn split_query_token(query: &str) -> (Option<String>, String) {
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("token=") {
            Some(value) => token = Some(value.to_string()),
            None => rest.push(pair),
        }
    }
    (token, rest.join("&"))
}

/// The middleware running the three checks.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = header_str(headers, header::HOST).unwrap_or_default();
    if !state.hosts.allows(host) {
        return refuse(
            StatusCode::FORBIDDEN,
            &format!("unexpected host `{host}`"),
            "open the UI at the address `cafleet web` printed",
        );
    }
    if let Some(token) = &state.token {
        let carried = bearer_token(headers).or_else(|| cookie_token(headers));
        if !carried.is_some_and(|t| same_secret(t, token)) {
            let query = request.uri().query().unwrap_or_default();
            let (offered, rest) = split_query_token(query);
            if request.method() == Method::GET && offered.is_some_and(|t| same_secret(&t, token)) {
                let path = request.uri().path();
                let location = if rest.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{rest}")
                };
                let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
                return (
                    StatusCode::SEE_OTHER,
                    [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
                )
                    .into_response();
            }
            return refuse(
                StatusCode::UNAUTHORIZED,
                "a token is required",
                "open the URL `cafleet web` printed (it ends in ?token=…), or send `Authorization: Bearer T`",
            );
        }
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let origin = header_str(headers, header::ORIGIN);
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let same_origin = origin.is_none_or(|o| o.eq_ignore_ascii_case(&format!("http://{host}")))
            && fetch_site.is_none_or(|s| s == "same-origin" || s == "none");
        if !same_origin {
            return refuse(
                StatusCode::FORBIDDEN,
                &format!(
                    "cross-origin request refused (origin `{}`)",
                    origin.unwrap_or("?")
                ),
                "send messages from the cafleet page itself or with `cafleet message send`",
            );
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_answers_to_its_names_only() {
        let policy = HostPolicy::new("127.0.0.1".parse().unwrap(), 8719);
        assert!(policy.allows("127.0.0.1:8719"));
        assert!(policy.allows("LOCALHOST:8719"));
        assert!(policy.allows("[::1]:8719"));
        assert!(!policy.allows("localhost:80"));
        assert!(!policy.allows("evil.example:8719"));
        assert!(HostPolicy::new("0.0.0.0".parse().unwrap(), 1).allows("anything:1"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abcdefgh", "abcdefgh"));
        assert!(!same_secret("abcdefgh", "abcdefg"));
        assert!(!same_secret("abcdefg", "abcdefgh"));
        assert!(!same_secret("", "abcdefgh"));
    }

    #[test]
    fn random_tokens_are_long_and_differ() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_is_taken_out_of_the_query() {
        assert_eq!(
            split_query_token("a=1&token=xyz&b=2"),
            (Some("xyz".into()), "a=1&b=2".into())
        );
        assert_eq!(split_query_token(""), (None, String::new()));
    }
}
