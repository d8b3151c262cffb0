//! Bearer-token checks for mutating endpoints. Reads are open (the server
//! listens on loopback by default); anything that changes the daemon's
//! behaviour needs the token.

use crate::error::ApiError;
use axum::http::{header, HeaderMap};

/// Checks `Authorization: Bearer <token>` against the configured token.
///
/// No configured token disables the endpoint (403) rather than leaving it
/// open; a missing or wrong token is 401. The presented token is never logged
/// or echoed.
pub(crate) fn require_token(configured: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = configured else {
        return Err(ApiError::Forbidden(
            "POST endpoints are disabled: no API token is configured".to_owned(),
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(ApiError::Unauthorized),
    }
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 7235).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Compares without an early exit, so the time taken does not reveal how many
/// leading bytes of a guess were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(header::AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn accepts_only_the_bearer_scheme_with_the_right_token() {
        assert!(require_token(Some("s3"), &headers("Bearer s3")).is_ok());
        assert!(require_token(Some("s3"), &headers("bearer s3")).is_ok());
        assert!(matches!(
            require_token(Some("s3"), &headers("Basic s3")),
            Err(ApiError::Unauthorized)
        ));
        assert!(matches!(
            require_token(Some("s3"), &headers("Bearer s4")),
            Err(ApiError::Unauthorized)
        ));
        assert!(matches!(
            require_token(Some("s3"), &HeaderMap::new()),
            Err(ApiError::Unauthorized)
        ));
        assert!(matches!(
            require_token(None, &headers("Bearer s3")),
            Err(ApiError::Forbidden(_))
        ));
    }
}
