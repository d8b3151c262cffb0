//! AWS Organizations (`organizations`, awsJson1_1, target prefix
//! `AWSOrganizationsV20161128`): `ListAccounts`, from the scenario's
//! `[organization]`. Shapes and limits from the 2016-11-28 model; its error
//! shapes spell the message `Message`.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::paging;
use crate::scenario::OrgAccountSpec;
use crate::server::World;
use crate::wire::{parse_body, ApiError, Ctx, Handler};

/// The dispatch table: one line per operation.
pub(crate) fn handler(op: &str) -> Option<Handler> {
    Some(match op {
        "ListAccounts" => list_accounts,
        _ => return None,
    })
}

/// An Organizations error: 400, with the message as `Message`.
fn error(code: &str, message: impl Into<String>) -> ApiError {
    let mut e = ApiError::bad_request(code, message);
    e.pascal_message = true;
    e
}

fn invalid_input(reason: &str, message: impl Into<String>) -> ApiError {
    error("InvalidInputException", message).with("Reason", reason)
}

/// Who may read the organisation: its management account and delegated
/// administrator. An account outside the organisation, or a scenario without
/// one, is told the caller is not in an organisation at all.
fn authorize(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    let world = ctx.world;
    if world.organization().is_none() || !world.in_organization(ctx.account) {
        return Err(error(
            "AWSOrganizationsNotInUseException",
            "Your account is not a member of an organization.",
        ));
    }
    if world.is_management(ctx.account) || world.is_delegated_admin(ctx.account) {
        return Ok(());
    }
    Err(error(
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAccountsRequest {
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn list_accounts(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: ListAccountsRequest = parse_body(body)?;
    authorize(ctx)?;
    let size = paging::page_size(req.max_results, 20, 1, 20, "MaxResults").map_err(|m| {
        let reason = if req.max_results.is_some_and(|n| n < 1) {
            "MIN_VALUE_EXCEEDED"
        } else {
            "MAX_VALUE_EXCEEDED"
        };
        invalid_input(reason, m)
    })?;
    let Some(org) = ctx.world.organization() else {
        return Ok(json!({ "Accounts": [] }));
    };
    let org_id = org.org_id();
    let fp = paging::fingerprint(&("ListAccounts", org_id.as_str(), ctx.account));
    let start = paging::start(req.next_token.as_deref(), fp, || {
        invalid_input(
            "INVALID_PAGINATION_TOKEN",
            "You specified an invalid value for nextToken. You must get the value from the response to a previous call to the API.",
        )
    })?;
    let elapsed = ctx.world.elapsed();
    let (page, next) = paging::page(&org.accounts, start, size, |a| a.present_at(elapsed));
    let items: Vec<Value> = page
        .iter()
        .map(|a| {
            account_json(
                ctx.world,
                a,
                &org.management_account,
                &org_id,
                org.legacy_status,
            )
        })
        .collect();
    let mut out = json!({ "Accounts": items });
    paging::attach(&mut out, "NextToken", next, fp);
    Ok(out)
}

/// One `Account`: `Status` only when the scenario asks for the retired member.
fn account_json(
    world: &World,
    a: &OrgAccountSpec,
    management: &str,
    org_id: &str,
    legacy_status: bool,
) -> Value {
    let joined = world.joined_at(a);
    let mut v = json!({
        "Id": a.id,
        "Arn": format!("arn:aws:organizations::{management}:account/{org_id}/{}", a.id),
        "Email": a.email,
        "Name": a.name,
        "State": a.state.as_deref().unwrap_or("ACTIVE"),
        "JoinedMethod": a.joined_method.as_deref().unwrap_or("CREATED"),
        "JoinedTimestamp": joined.timestamp_millis() as f64 / 1000.0,
    });
    if legacy_status {
        v["Status"] = json!(a.legacy_status());
    }
    v
}
