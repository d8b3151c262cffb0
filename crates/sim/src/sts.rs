//! STS (`sts`, awsQuery): form-encoded requests, XML answers.
//!
//! `AssumeRole` grants any well-formed role ARN, except in an organisation
//! account with `deny_assume_role`, which answers `AccessDenied` (403) as
//! AWS does, naming the caller and the role; an `access_denied` fault on
//! operation `AssumeRole` denies it too. The temporary access key it issues
//! names the role's account (`ASIA<12 digits>SIMR`), so calls signed with it
//! act as that account, as [`assumed_role_account`] tells the router. The
//! session token names when the credentials expire ([`session_expiry`]):
//! `[sts] credential_lifetime` if set, else the requested `DurationSeconds`;
//! the router answers `ExpiredToken(Exception)` to calls signed with them
//! after that. Each AssumeRole is counted per target account.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::wire::{xml_escape, ApiError, Ctx, Handler};

/// The dispatch table: one line per operation.
pub(crate) fn handler(op: &str) -> Option<Handler> {
    Some(match op {
        "GetCallerIdentity" => get_caller_identity,
        "AssumeRole" => assume_role,
        _ => return None,
    })
}

/// The ARN GetCallerIdentity reports for the caller, also named in denials.
fn caller_arn(ctx: &Ctx<'_>) -> String {
    format!(
        "arn:aws:iam::{}:user/blindspot-sim-{}",
        ctx.account,
        caller_key(ctx)
    )
}

fn caller_key(ctx: &Ctx<'_>) -> String {
    ctx.access_key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn get_caller_identity(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    if let Some(v) = form_value(body, "Version") {
        if v != "2011-06-15" {
            return Err(ApiError::bad_request(
                "InvalidAction",
                format!("Could not find operation GetCallerIdentity for version {v}"),
            ));
        }
    }
    Ok(json!({
        "Arn": caller_arn(ctx),
        "UserId": format!("AIDA{}", caller_key(ctx).to_ascii_uppercase()),
        "Account": ctx.account,
    }))
}

/// The prefix and suffix of the access keys `AssumeRole` issues, around the
/// role's 12-digit account ID: 20 characters, like AWS's `ASIA…` keys.
const ASSUMED_KEY_PREFIX: &str = "ASIA";
const ASSUMED_KEY_SUFFIX: &str = "SIMR";

/// The account of a temporary access key issued by [`assume_role`].
pub(crate) fn assumed_role_account(access_key: &str) -> Option<String> {
    let account = access_key
        .strip_prefix(ASSUMED_KEY_PREFIX)?
        .strip_suffix(ASSUMED_KEY_SUFFIX)?;
    is_account_id(account).then(|| account.to_owned())
}

/// The prefix of the session tokens `AssumeRole` issues:
/// `<prefix>.<account>.<expiry, epoch seconds>.<session name>`.
const SESSION_TOKEN_PREFIX: &str = "blindspot-sim-session";

fn session_token(account: &str, expiry: chrono::DateTime<chrono::Utc>, session: &str) -> String {
    format!(
        "{SESSION_TOKEN_PREFIX}.{account}.{}.{session}",
        expiry.timestamp()
    )
}

/// When the credentials of a session token issued by [`assume_role`]
/// expire; `None` for any other token.
pub(crate) fn session_expiry(token: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut parts = token.splitn(4, '.');
    if parts.next()? != SESSION_TOKEN_PREFIX || !is_account_id(parts.next()?) {
        return None;
    }
    let secs: i64 = parts.next()?.parse().ok()?;
    chrono::DateTime::from_timestamp(secs, 0)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:<partition>:iam::<account>:role/<path/name>` → (account, name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    (!partition.is_empty() && is_account_id(account) && !name.is_empty()).then_some((account, name))
}

fn assume_role(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let invalid = |message: String| ApiError::bad_request("ValidationError", message);
    let role_arn = form_value(body, "RoleArn").unwrap_or_default();
    let Some((account, role)) = parse_role_arn(&role_arn) else {
        return Err(invalid(format!(
            "{role_arn} is invalid: roleArn must be arn:<partition>:iam::<account>:role/<name>"
        )));
    };
    let session = form_value(body, "RoleSessionName").unwrap_or_default();
    if session.is_empty() || session.len() > 64 {
        return Err(invalid(format!(
            "Value '{session}' at 'roleSessionName' failed to satisfy constraint: \
             Member must have length between 2 and 64"
        )));
    }
    let seconds = match form_value(body, "DurationSeconds") {
        None => 3600,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (900..=43_200).contains(&n) => n,
            _ => {
                return Err(invalid(format!(
                    "Value '{v}' at 'durationSeconds' failed to satisfy constraint: \
                     Member must have value between 900 and 43200"
                )))
            }
        },
    };
    let denied = ctx
        .world
        .org_account(account)
        .is_some_and(|a| a.deny_assume_role);
    ctx.shared.record_assume_role(account, denied);
    if denied {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller_arn(ctx)
            ),
        ));
    }
    let lifetime = match ctx.world.scenario.sts.credential_lifetime {
        Some(d) => chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX),
        None => chrono::TimeDelta::seconds(seconds),
    };
    // Whole seconds, as STS sends them: the expiry the client reads is the
    // one the router enforces.
    let expiration = chrono::Utc::now()
        .checked_add_signed(lifetime)
        .and_then(|t| chrono::DateTime::from_timestamp(t.timestamp(), 0))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    Ok(json!({
        "Credentials": {
            "AccessKeyId": format!("{ASSUMED_KEY_PREFIX}{account}{ASSUMED_KEY_SUFFIX}"),
            "SecretAccessKey": "blindspot-sim-assumed-role-secret",
            "SessionToken": session_token(account, expiration, &session),
            "Expiration": expiration.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
        "AssumedRoleUser": {
            "Arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            "AssumedRoleId": format!("AROASIM{account}:{session}"),
        },
    }))
}

/// Renders a JSON object, nested objects as nested elements.
fn xml_fields(value: &Value) -> String {
    let mut fields = String::new();
    if let Some(obj) = value.as_object() {
        for (k, v) in obj {
            let inner = match v {
                Value::Object(_) => xml_fields(v),
                Value::String(s) => xml_escape(s),
                other => xml_escape(&other.to_string()),
            };
            fields.push_str(&format!("<{k}>{inner}</{k}>"));
        }
    }
    fields
}

/// Renders a JSON object as the awsQuery answer
/// `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…`.
pub(crate) fn xml_response(request_id: &str, op: &str, value: &Value) -> Response<Body> {
    let fields = xml_fields(value);
    let body = format!(
        "<{op}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{op}Result>{fields}</{op}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op}Response>"
    );
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    resp
}

/// The decoded value of `key` in a form-encoded body.
pub(crate) fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        let body = b"Action=GetCallerIdentity&Version=2011-06-15&X=a%2Fb+c&Bad=%zz";
        assert_eq!(
            form_value(body, "Action").as_deref(),
            Some("GetCallerIdentity")
        );
        assert_eq!(form_value(body, "X").as_deref(), Some("a/b c"));
        assert_eq!(form_value(body, "Bad").as_deref(), Some("%zz"));
        assert_eq!(form_value(body, "Missing"), None);
    }

    #[test]
    fn role_arns_and_assumed_keys_name_the_account() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::210987654321:role/audit/blindspot"),
            Some(("210987654321", "blindspot"))
        );
        for bad in [
            "arn:aws:iam::21098765432:role/x",
            "arn:aws:iam::210987654321:user/x",
            "arn:aws:sts::210987654321:role/x",
            "arn:aws:iam::210987654321:role/",
            "nonsense",
        ] {
            assert_eq!(parse_role_arn(bad), None, "{bad}");
        }
        assert_eq!(
            assumed_role_account("ASIA210987654321SIMR").as_deref(),
            Some("210987654321")
        );
        assert_eq!(assumed_role_account("AKIDTESTBLINDSPOT"), None);
        assert_eq!(assumed_role_account("ASIA2109876543SIMR"), None);
    }

    #[test]
    fn session_tokens_name_their_expiry() {
        let expiry = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let token = session_token("210987654321", expiry, "blindspot.audit-1");
        assert_eq!(session_expiry(&token), Some(expiry));
        for other in [
            "",
            "FQoGZXIvYXdzEXAMPLE",
            "blindspot-sim-session.2109.1800000000.s",
            "blindspot-sim-session.210987654321.soon.s",
            "blindspot-sim-session-210987654321-s",
        ] {
            assert_eq!(session_expiry(other), None, "{other}");
        }
    }
}
