//! Lambda (`lambda`, restJson1, API version 2015-03-31): ListFunctions only,
//! which blindspot asks to learn whether a region has any function. A `GET`
//! whose members travel in the query string (`MaxItems`, `Marker`); the
//! server hands them to the handler as a JSON object of strings.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::paging;
use crate::wire::{parse_body, ApiError, Ctx, Handler};

/// The operation served at `path` (the model's `requestUri`, which the SDK
/// sends with a trailing slash).
pub(crate) fn operation_for_path(path: &str) -> Option<&'static str> {
    match path {
        "/2015-03-31/functions" | "/2015-03-31/functions/" => Some("ListFunctions"),
        _ => None,
    }
}

/// The dispatch table: one line per operation.
pub(crate) fn handler(op: &str) -> Option<Handler> {
    Some(match op {
        "ListFunctions" => list_functions,
        _ => return None,
    })
}

/// `InvalidParameterValueException` (400), with the `Type` Lambda sends.
fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidParameterValueException", message).with("Type", "User")
}

/// The query string, as the server passes it: every value a string.
#[derive(Debug, Deserialize)]
struct ListFunctionsRequest {
    #[serde(rename = "MaxItems")]
    max_items: Option<String>,
    #[serde(rename = "Marker")]
    marker: Option<String>,
}

fn list_functions(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: ListFunctionsRequest = parse_body(body)?;
    let requested = match req.max_items.as_deref() {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| invalid(format!("MaxItems {v:?} is not an integer")))?,
        ),
    };
    // `MaxListItems`: 1 to 10000; Lambda answers at most 50 per page.
    let size = paging::page_size(requested, 50, 1, 10_000, "maxItems")
        .map_err(invalid)?
        .min(50);
    let fp = paging::fingerprint(&("ListFunctions", ctx.account, ctx.region));
    let start = paging::start(req.marker.as_deref(), fp, || {
        invalid("The marker is not valid.")
    })?;
    let names = ctx
        .data()
        .map(|(r, _)| r.lambda_functions.names("function"))
        .unwrap_or_default();
    let (page, next) = paging::page(&names, start, size, |_| true);
    let functions: Vec<Value> = page
        .iter()
        .map(|name| {
            json!({
                "FunctionName": name,
                "FunctionArn": format!(
                    "arn:aws:lambda:{}:{}:function:{name}",
                    ctx.region, ctx.account
                ),
                "Runtime": "python3.12",
                "Handler": "app.handler",
                "PackageType": "Zip",
                "Version": "$LATEST",
                "Architectures": ["x86_64"],
            })
        })
        .collect();
    let mut out = json!({ "Functions": functions });
    paging::attach(&mut out, "NextMarker", next, fp);
    Ok(out)
}
