//! STS (`sts`, awsQuery): form-encoded requests, XML answers.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response};
use serde_json::{json, Value};

use crate::wire::{xml_escape, ApiError, Ctx, Handler};

/// The dispatch table: one line per operation.
pub(crate) fn handler(op: &str) -> Option<Handler> {
    Some(match op {
        "GetCallerIdentity" => get_caller_identity,
        _ => return None,
    })
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
    let key: String = ctx
        .access_key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    Ok(json!({
        "Arn": format!("arn:aws:iam::{}:user/blindspot-sim-{}", ctx.account, key),
        "UserId": format!("AIDA{}", key.to_ascii_uppercase()),
        "Account": ctx.account,
    }))
}

/// Renders a flat JSON object as the awsQuery answer
/// `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…`.
pub(crate) fn xml_response(request_id: &str, op: &str, value: &Value) -> Response<Body> {
    let mut fields = String::new();
    if let Some(obj) = value.as_object() {
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            fields.push_str(&format!("<{k}>{}</{k}>", xml_escape(&text)));
        }
    }
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
}
