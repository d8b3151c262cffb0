//! What every service module shares: the protocol an answer is rendered in,
//! the error type handlers return, and the per-call context.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::scenario::RegionScenario;
use crate::server::World;

/// The three AWS wire protocols the simulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// awsJson1_1: Inspector classic and SSM.
    AwsJson,
    /// restJson1: Inspector2.
    RestJson,
    /// awsQuery: STS.
    Query,
}

/// An error answer, rendered according to the protocol.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Members the model's error shape requires besides the message.
    pub extra: Map<String, Value>,
    /// Whether the message member is spelled `Message` (SSM) as well.
    pub pascal_message: bool,
    /// `Retry-After` header for throttling and 5xx answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            extra: Map::new(),
            pascal_message: false,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub fn unknown_operation(op: &str) -> ApiError {
        ApiError::bad_request(
            "UnknownOperationException",
            format!("The operation {op} is not supported by this endpoint."),
        )
    }

    pub fn serialization(detail: impl std::fmt::Display) -> ApiError {
        ApiError::bad_request(
            "SerializationException",
            format!("Could not parse request body: {detail}"),
        )
    }
}

/// Builds the HTTP answer for a successful JSON call.
pub(crate) fn json_response(protocol: Protocol, request_id: &str, body: &Value) -> Response<Body> {
    let content_type = match protocol {
        Protocol::AwsJson => "application/x-amz-json-1.1",
        _ => "application/json",
    };
    respond(
        StatusCode::OK,
        content_type,
        request_id,
        None,
        body.to_string(),
    )
}

/// Builds the HTTP answer for an error in `protocol`'s shape.
pub(crate) fn error_response(protocol: Protocol, request_id: &str, e: &ApiError) -> Response<Body> {
    match protocol {
        Protocol::AwsJson | Protocol::RestJson => {
            let mut body = Map::new();
            body.insert("__type".into(), Value::String(e.code.clone()));
            body.insert("message".into(), Value::String(e.message.clone()));
            if e.pascal_message {
                body.insert("Message".into(), Value::String(e.message.clone()));
            }
            for (k, v) in &e.extra {
                body.insert(k.clone(), v.clone());
            }
            let content_type = if protocol == Protocol::AwsJson {
                "application/x-amz-json-1.1"
            } else {
                "application/json"
            };
            let mut resp = respond(
                e.status,
                content_type,
                request_id,
                e.retry_after,
                Value::Object(body).to_string(),
            );
            if let Ok(v) = HeaderValue::from_str(&e.code) {
                resp.headers_mut().insert("x-amzn-ErrorType", v);
            }
            resp
        }
        Protocol::Query => {
            let kind = if e.status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            };
            let body = format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                xml_escape(&e.code),
                xml_escape(&e.message)
            );
            respond(e.status, "text/xml", request_id, e.retry_after, body)
        }
    }
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    request_id: &str,
    retry_after: Option<u64>,
    body: String,
) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    if let Some(secs) = retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// Escapes text for XML element content.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Parses a JSON request body; an empty body counts as `{}` because some
/// clients send nothing for operations without required members.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(ApiError::serialization)
}

/// Everything a handler may look at for one call.
pub(crate) struct Ctx<'a> {
    pub world: &'a World,
    pub region: &'a str,
    pub account: &'a str,
    pub access_key: &'a str,
    pub shared: &'a crate::server::Shared,
}

impl<'a> Ctx<'a> {
    /// The caller's data in the called region, if the scenario has any.
    pub fn data(&self) -> Option<(&'a RegionScenario, &'a crate::server::RegionIndex)> {
        self.world.region(self.account, self.region)
    }
}

/// Converts a timestamp to the JSON protocols' epoch-seconds number.
pub(crate) fn ts(t: &crate::scenario::Timestamp) -> Value {
    serde_json::Number::from_f64(t.epoch())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A handler for one operation.
pub(crate) type Handler = fn(&Ctx<'_>, &[u8]) -> Result<Value, ApiError>;
