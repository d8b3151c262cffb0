//! Inspector2 (`inspector2`, restJson1): `POST` to a path per operation,
//! camelCase members, errors with the HTTP status each error shape declares
//! in the 2020-06-08 model.
//!
//! The organisation view (see the `scenario` module doc) is the delegated
//! administrator's: ListMembers, DescribeOrganizationConfiguration, the
//! members' BatchGetAccountStatus and ListCoverage over every associated
//! member; GetDelegatedAdminAccount is the management account's.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::paging;
use crate::scenario::{CoverageSpec, Inspector2Spec, RegionScenario};
use crate::server::World;
use crate::wire::{parse_body, ts, ApiError, Ctx, Handler};

/// The operation served at `path` (each op's `requestUri` in the model).
pub(crate) fn operation_for_path(path: &str) -> Option<&'static str> {
    Some(match path {
        "/status/batch/get" => "BatchGetAccountStatus",
        "/coverage/list" => "ListCoverage",
        "/configuration/get" => "GetConfiguration",
        "/ec2deepinspectionconfiguration/get" => "GetEc2DeepInspectionConfiguration",
        "/members/list" => "ListMembers",
        "/organizationconfiguration/describe" => "DescribeOrganizationConfiguration",
        "/delegatedadminaccounts/get" => "GetDelegatedAdminAccount",
        _ => return None,
    })
}

/// The dispatch table: one line per operation.
pub(crate) fn handler(op: &str) -> Option<Handler> {
    Some(match op {
        "BatchGetAccountStatus" => batch_get_account_status,
        "ListCoverage" => list_coverage,
        "GetConfiguration" => get_configuration,
        "GetEc2DeepInspectionConfiguration" => get_ec2_deep_inspection_configuration,
        "ListMembers" => list_members,
        "DescribeOrganizationConfiguration" => describe_organization_configuration,
        "GetDelegatedAdminAccount" => get_delegated_admin_account,
        _ => return None,
    })
}

/// `ValidationException` (400) with its required `reason`.
fn validation(reason: &str, field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::bad_request("ValidationException", message.clone())
        .with("reason", reason)
        .with("fields", json!([{"name": field, "message": message}]))
}

fn invalid_token() -> ApiError {
    validation(
        "FIELD_VALIDATION_FAILED",
        "nextToken",
        "The nextToken is invalid or does not belong to this request.",
    )
}

/// A `State`. The model requires `errorCode` and `errorMessage` on every
/// state, so unless the scenario names a code, the one that describes the
/// status itself is reported.
fn state_json(status: &str, error_code: Option<&str>) -> Value {
    let code = error_code.unwrap_or(match status {
        "ENABLED" => "ALREADY_ENABLED",
        "ENABLING" => "ENABLE_IN_PROGRESS",
        "DISABLING" => "DISABLE_IN_PROGRESS",
        "SUSPENDING" => "SUSPEND_IN_PROGRESS",
        _ => "RESOURCE_NOT_FOUND",
    });
    let message = match error_code {
        Some(c) => format!("Status is {status}: {c}."),
        None => format!("Status is {status}."),
    };
    json!({"status": status, "errorCode": code, "errorMessage": message})
}

fn account_state_json(account: &str, spec: Option<&Inspector2Spec>) -> Value {
    let state = |key: &str, v: Option<&Option<String>>| {
        let status = v.and_then(|o| o.as_deref()).unwrap_or("DISABLED");
        let code = spec
            .and_then(|s| s.error_codes.get(key))
            .map(String::as_str);
        state_json(status, code)
    };
    json!({
        "accountId": account,
        "state": state("account", spec.map(|s| &s.status)),
        "resourceState": {
            "ec2": state("ec2", spec.map(|s| &s.ec2)),
            "ecr": state("ecr", spec.map(|s| &s.ecr)),
            "lambda": state("lambda", spec.map(|s| &s.lambda)),
            "lambdaCode": state("lambda_code", spec.map(|s| &s.lambda_code)),
        },
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchGetAccountStatusRequest {
    #[serde(default)]
    account_ids: Vec<String>,
}

/// `AccessDeniedException` (403).
fn access_denied(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "AccessDeniedException", message)
}

/// Whether `account` is a member the delegated administrator sees now:
/// in the organisation, associated (`ENABLED`), and not the administrator.
fn associated_member(world: &World, account: &str) -> bool {
    !world.is_delegated_admin(account)
        && world
            .org_account(account)
            .is_some_and(|a| a.present_at(world.elapsed()) && a.relationship() == Some("ENABLED"))
}

/// Whether the caller may read `account`'s status, or the `errorCode` and
/// `errorMessage` of its `failedAccounts` entry.
fn status_access(ctx: &Ctx<'_>, account: &str) -> Result<(), (&'static str, &'static str)> {
    let world = ctx.world;
    let not_member = (
        "RESOURCE_NOT_FOUND",
        "The account is not associated with this administrator.",
    );
    if account == ctx.account {
        Ok(())
    } else if world.organization().is_none() {
        // A scenario without an organisation is one administrator's view.
        if world.known_accounts.contains(account) {
            Ok(())
        } else {
            Err(not_member)
        }
    } else if !world.is_delegated_admin(ctx.account) {
        Err((
            "ACCESS_DENIED",
            "Only the delegated administrator can read the status of other accounts.",
        ))
    } else if associated_member(world, account) {
        Ok(())
    } else {
        Err(not_member)
    }
}

fn batch_get_account_status(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: BatchGetAccountStatusRequest = parse_body(body)?;
    if req.account_ids.len() > 100 {
        return Err(validation(
            "FIELD_VALIDATION_FAILED",
            "accountIds",
            "accountIds must hold at most 100 account IDs.",
        ));
    }
    let ids = if req.account_ids.is_empty() {
        vec![ctx.account.to_string()]
    } else {
        req.account_ids
    };
    let mut accounts = Vec::new();
    let mut failed = Vec::new();
    for id in ids {
        if !crate::scenario::is_account_id(&id) {
            return Err(validation(
                "FIELD_VALIDATION_FAILED",
                "accountIds",
                format!("{id} is not a 12-digit account ID."),
            ));
        }
        match status_access(ctx, &id) {
            Ok(()) => {
                let spec = ctx
                    .world
                    .region(&id, ctx.region)
                    .and_then(|(r, _)| r.inspector2.as_ref());
                accounts.push(account_state_json(&id, spec));
            }
            Err((code, message)) => failed.push(json!({
                "accountId": id,
                "errorCode": code,
                "errorMessage": message,
            })),
        }
    }
    Ok(json!({"accounts": accounts, "failedAccounts": failed}))
}

/// One `CoverageStringFilter`.
#[derive(Debug, Deserialize, Hash)]
struct StringFilter {
    comparison: String,
    value: String,
}

/// One `CoverageMapFilter`.
#[derive(Debug, Deserialize, Hash)]
struct MapFilter {
    comparison: String,
    key: String,
    value: Option<String>,
}

/// One `CoverageDateFilter`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DateFilter {
    start_inclusive: Option<f64>,
    end_inclusive: Option<f64>,
}

/// The parts of `CoverageFilterCriteria` the simulator evaluates. String
/// filters on attributes it does not model (ECR, Lambda, code repositories,
/// other clouds) see the attribute as absent: EQUALS never matches and
/// NOT_EQUALS always does.
#[derive(Debug, Default)]
struct Criteria {
    strings: Vec<(String, Vec<StringFilter>)>,
    ec2_tags: Vec<MapFilter>,
    last_scanned: Vec<DateFilter>,
    /// Keys whose attribute is absent on every simulated resource.
    unmodelled: Vec<(String, Vec<StringFilter>)>,
    has_unmodelled_map: bool,
    has_unmodelled_date: bool,
}

const STRING_KEYS: &[&str] = &[
    "scanStatusCode",
    "scanStatusReason",
    "accountId",
    "resourceId",
    "resourceType",
    "scanType",
    "scanMode",
];
const MAP_KEYS: &[&str] = &[
    "ec2InstanceTags",
    "lambdaFunctionTags",
    "machineImageTags",
    "cloudVmInstanceTags",
    "cloudServerlessFunctionTags",
];
const DATE_KEYS: &[&str] = &["lastScannedAt", "imagePulledAt", "ecrImageLastInUseAt"];
const OTHER_STRING_KEYS: &[&str] = &[
    "ecrRepositoryName",
    "ecrImageTags",
    "lambdaFunctionName",
    "lambdaFunctionRuntime",
    "codeRepositoryProjectName",
    "codeRepositoryProviderType",
    "codeRepositoryProviderTypeVisibility",
    "lastScannedCommitId",
    "cloudProvider",
    "cloudProviderAccountId",
    "cloudProviderRegion",
    "cloudContainerImageTags",
    "cloudContainerRepositoryName",
    "cloudContainerRegistryName",
    "cloudServerlessFunctionName",
    "cloudServerlessFunctionRuntime",
    "cloudProviderOrgId",
];

fn parse_list<T: serde::de::DeserializeOwned>(key: &str, v: &Value) -> Result<Vec<T>, ApiError> {
    let list: Vec<T> = serde_json::from_value(v.clone()).map_err(|e| {
        validation(
            "CANNOT_PARSE",
            &format!("filterCriteria.{key}"),
            format!("Cannot parse filterCriteria.{key}: {e}"),
        )
    })?;
    if list.is_empty() || list.len() > 10 {
        return Err(validation(
            "FIELD_VALIDATION_FAILED",
            &format!("filterCriteria.{key}"),
            format!("filterCriteria.{key} must hold 1 to 10 filters."),
        ));
    }
    Ok(list)
}

fn check_comparisons(key: &str, filters: &[StringFilter]) -> Result<(), ApiError> {
    for f in filters {
        if f.comparison != "EQUALS" && f.comparison != "NOT_EQUALS" {
            return Err(validation(
                "FIELD_VALIDATION_FAILED",
                &format!("filterCriteria.{key}"),
                format!(
                    "comparison must be EQUALS or NOT_EQUALS, not {}.",
                    f.comparison
                ),
            ));
        }
    }
    Ok(())
}

impl Criteria {
    fn parse(v: Option<&Map<String, Value>>) -> Result<Criteria, ApiError> {
        let mut c = Criteria::default();
        let Some(map) = v else { return Ok(c) };
        for (key, value) in map {
            let k = key.as_str();
            if STRING_KEYS.contains(&k) {
                let list: Vec<StringFilter> = parse_list(k, value)?;
                check_comparisons(k, &list)?;
                c.strings.push((key.clone(), list));
            } else if OTHER_STRING_KEYS.contains(&k) {
                let list: Vec<StringFilter> = parse_list(k, value)?;
                check_comparisons(k, &list)?;
                c.unmodelled.push((key.clone(), list));
            } else if k == "ec2InstanceTags" {
                c.ec2_tags = parse_list(k, value)?;
            } else if MAP_KEYS.contains(&k) {
                let _: Vec<MapFilter> = parse_list(k, value)?;
                c.has_unmodelled_map = true;
            } else if k == "lastScannedAt" {
                c.last_scanned = parse_list(k, value)?;
            } else if DATE_KEYS.contains(&k) {
                let _: Vec<DateFilter> = parse_list(k, value)?;
                c.has_unmodelled_date = true;
            } else if k == "ecrImageInUseCount" {
                let _: Vec<Value> = parse_list(k, value)?;
                c.has_unmodelled_date = true;
            } else {
                return Err(validation(
                    "FIELD_VALIDATION_FAILED",
                    &format!("filterCriteria.{k}"),
                    format!("Unknown filter criterion {k}."),
                ));
            }
        }
        Ok(c)
    }

    fn accepts(&self, r: &CoverageSpec) -> bool {
        // Range and map filters on unmodelled attributes need a value that
        // no simulated resource has.
        if self.has_unmodelled_map || self.has_unmodelled_date {
            return false;
        }
        let strings_ok = self.strings.iter().all(|(key, filters)| {
            let have = match key.as_str() {
                "scanStatusCode" => r.status_code.as_deref(),
                "scanStatusReason" => r.reason.as_deref(),
                "accountId" => r.account_id.as_deref(),
                "resourceId" => Some(r.resource_id.as_str()),
                "resourceType" => r.resource_type.as_deref(),
                "scanType" => r.scan_type.as_deref(),
                "scanMode" => r.scan_mode.as_deref(),
                _ => None,
            };
            string_filters_accept(filters, have)
        });
        strings_ok
            && self
                .unmodelled
                .iter()
                .all(|(_, filters)| string_filters_accept(filters, None))
            && self.ec2_tags.iter().all(|f| {
                r.tags
                    .get(&f.key)
                    .is_some_and(|v| f.value.as_deref().is_none_or(|w| w == v))
            })
            && (self.last_scanned.is_empty()
                || self.last_scanned.iter().any(|d| {
                    r.last_scanned_at.is_some_and(|t| {
                        let e = t.epoch();
                        d.start_inclusive.is_none_or(|s| e >= s)
                            && d.end_inclusive.is_none_or(|x| e <= x)
                    })
                }))
    }
}

/// EQUALS filters of one key are alternatives; NOT_EQUALS filters all apply.
fn string_filters_accept(filters: &[StringFilter], have: Option<&str>) -> bool {
    let mut equals = filters
        .iter()
        .filter(|f| f.comparison == "EQUALS")
        .peekable();
    let eq_ok = equals.peek().is_none() || equals.any(|f| Some(f.value.as_str()) == have);
    let ne_ok = filters
        .iter()
        .filter(|f| f.comparison == "NOT_EQUALS")
        .all(|f| Some(f.value.as_str()) != have);
    eq_ok && ne_ok
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListCoverageRequest {
    max_results: Option<i64>,
    next_token: Option<String>,
    filter_criteria: Option<Map<String, Value>>,
}

fn coverage_of<'a>(ctx: &Ctx<'a>) -> (&'a [CoverageSpec], Option<&'a RegionScenario>) {
    match ctx.data() {
        Some((r, _)) => (r.coverage.as_slice(), Some(r)),
        None => (&[], None),
    }
}

fn list_coverage(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: ListCoverageRequest = parse_body(body)?;
    // The model caps maxResults at 200 and documents no default; 100 is
    // what the other Inspector2 list operations use.
    let size = paging::page_size(req.max_results, 100, 1, 200, "maxResults")
        .map_err(|m| validation("FIELD_VALIDATION_FAILED", "maxResults", m))?;
    let criteria = Criteria::parse(req.filter_criteria.as_ref())?;
    let fp = paging::fingerprint(&(
        "ListCoverage",
        ctx.account,
        ctx.region,
        serde_json::to_string(&req.filter_criteria).unwrap_or_default(),
    ));
    let start = paging::start(req.next_token.as_deref(), fp, invalid_token)?;
    let (page, next) = if ctx.world.is_delegated_admin(ctx.account) {
        // The administrator's own resources, then each associated member's
        // in the organisation's order. A member outside the organisation
        // now keeps its place, so offsets stay valid while it joins.
        let world = ctx.world;
        let (own, _) = coverage_of(ctx);
        let mut segments = vec![own];
        let mut visible = vec![true];
        let elapsed = world.elapsed();
        for a in world.organization().map_or(&[][..], |o| &o.accounts) {
            if a.id == ctx.account || a.relationship() != Some("ENABLED") {
                continue;
            }
            let coverage = world
                .region(&a.id, ctx.region)
                .map_or(&[][..], |(r, _)| r.coverage.as_slice());
            segments.push(coverage);
            visible.push(a.present_at(elapsed));
        }
        paging::page_segments(&segments, start, size, |seg, r| {
            visible.get(seg).copied().unwrap_or(false) && criteria.accepts(r)
        })
    } else {
        let (all, _) = coverage_of(ctx);
        paging::page(all, start, size, |r| criteria.accepts(r))
    };
    let items: Vec<Value> = page.iter().map(|r| coverage_json(r)).collect();
    let mut out = json!({ "coveredResources": items });
    paging::attach(&mut out, "nextToken", next, fp);
    Ok(out)
}

fn coverage_json(r: &CoverageSpec) -> Value {
    let mut v = json!({
        "resourceType": r.resource_type.as_deref().unwrap_or("AWS_EC2_INSTANCE"),
        "resourceId": r.resource_id,
        "accountId": r.account_id,
        "scanType": r.scan_type.as_deref().unwrap_or("PACKAGE"),
        "scanStatus": {
            "statusCode": r.status_code.as_deref().unwrap_or("ACTIVE"),
            "reason": r.reason.as_deref().unwrap_or("SUCCESSFUL"),
        },
    });
    if r.resource_type.as_deref().unwrap_or("AWS_EC2_INSTANCE") == "AWS_EC2_INSTANCE" {
        let mut ec2 = json!({ "tags": r.tags });
        if let Some(a) = &r.ami_id {
            ec2["amiId"] = json!(a);
        }
        if let Some(p) = &r.platform {
            ec2["platform"] = json!(p);
        }
        v["resourceMetadata"] = json!({ "ec2": ec2 });
    }
    if let Some(t) = &r.last_scanned_at {
        v["lastScannedAt"] = ts(t);
    }
    if let Some(m) = &r.scan_mode {
        v["scanMode"] = json!(m);
    }
    v
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetConfigurationRequest {
    account_id: Option<String>,
}

fn get_configuration(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: GetConfigurationRequest = parse_body(body)?;
    let account = req.account_id.as_deref().unwrap_or(ctx.account);
    if account != ctx.account && !ctx.world.known_accounts.contains(account) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            format!("You are not the delegated administrator for {account}."),
        ));
    }
    let spec = ctx
        .world
        .region(account, ctx.region)
        .and_then(|(r, _)| r.inspector2.as_ref());
    let Some(spec) = spec else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!(
                "Amazon Inspector is not enabled for account {account} in {}.",
                ctx.region
            ),
        ));
    };
    Ok(json!({
        "ec2Configuration": {
            "scanModeState": {
                "scanMode": spec.scan_mode.as_deref().unwrap_or("EC2_SSM_AGENT_BASED"),
                "scanModeStatus": spec.scan_mode_status.as_deref().unwrap_or("SUCCESS"),
            }
        },
        "ecrConfiguration": {
            "rescanDurationState": {
                "rescanDuration": "DAYS_30",
                "status": "SUCCESS",
                "pullDateRescanDuration": "DAYS_30",
                "pullDateRescanMode": "LAST_PULL_DATE",
            }
        },
    }))
}

/// GetEc2DeepInspectionConfiguration: the caller's own account (the request
/// has no members). `status`, `packagePaths`, `orgPackagePaths` and, when the
/// scenario names one, `errorMessage`.
fn get_ec2_deep_inspection_configuration(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let _: Map<String, Value> = parse_body(body)?;
    let Some(spec) = ctx.data().and_then(|(r, _)| r.inspector2.as_ref()) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!(
                "Amazon Inspector is not enabled for account {} in {}.",
                ctx.account, ctx.region
            ),
        ));
    };
    let mut out = json!({
        "status": spec.deep_inspection.as_deref().unwrap_or("ACTIVATED"),
        "packagePaths": spec.package_paths,
        "orgPackagePaths": spec.org_package_paths,
    });
    if let Some(message) = &spec.deep_inspection_error {
        out["errorMessage"] = Value::String(message.clone());
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListMembersRequest {
    only_associated: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// ListMembers: the organisation's Inspector members, for the delegated
/// administrator or the management account. `onlyAssociated` absent counts
/// as true, as in GuardDuty's ListMembers, whose shape this one follows.
fn list_members(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: ListMembersRequest = parse_body(body)?;
    let size = paging::page_size(req.max_results, 50, 1, 50, "maxResults")
        .map_err(|m| validation("FIELD_VALIDATION_FAILED", "maxResults", m))?;
    let world = ctx.world;
    let Some(org) = world.organization() else {
        return Err(access_denied("The account is not part of an organization."));
    };
    if !(world.is_delegated_admin(ctx.account) || world.is_management(ctx.account)) {
        return Err(access_denied(
            "Only the delegated administrator or the management account can list members.",
        ));
    }
    let only_associated = req.only_associated.unwrap_or(true);
    let fp = paging::fingerprint(&("ListMembers", ctx.account, ctx.region, only_associated));
    let start = paging::start(req.next_token.as_deref(), fp, invalid_token)?;
    let elapsed = world.elapsed();
    let admin = org.delegated_admin.as_deref();
    let (page, next) = paging::page(&org.accounts, start, size, |a| {
        a.present_at(elapsed)
            && Some(a.id.as_str()) != admin
            && a.relationship()
                .is_some_and(|r| !only_associated || r == "ENABLED")
    });
    let members: Vec<Value> = page
        .iter()
        .map(|a| {
            let mut m = json!({
                "accountId": a.id,
                "relationshipStatus": a.relationship().unwrap_or("ENABLED"),
                "updatedAt": world.joined_at(a).timestamp_millis() as f64 / 1000.0,
            });
            if let Some(admin) = admin {
                m["delegatedAdminAccountId"] = json!(admin);
            }
            m
        })
        .collect();
    let mut out = json!({ "members": members });
    paging::attach(&mut out, "nextToken", next, fp);
    Ok(out)
}

/// DescribeOrganizationConfiguration: the delegated administrator's only.
fn describe_organization_configuration(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let _: Map<String, Value> = parse_body(body)?;
    let org = ctx
        .world
        .organization()
        .filter(|_| ctx.world.is_delegated_admin(ctx.account));
    let Some(org) = org else {
        return Err(access_denied(
            "Invoking account is not the delegated administrator for Amazon Inspector.",
        ));
    };
    let auto = org.auto_enable_in(ctx.region);
    Ok(json!({
        "autoEnable": {
            "ec2": auto.ec2,
            "ecr": auto.ecr,
            "lambda": auto.lambda,
            "lambdaCode": auto.lambda_code,
        },
        "maxAccountLimitReached": org.max_account_limit_reached,
    }))
}

/// GetDelegatedAdminAccount: the management account's only; `{}` when the
/// organisation has no delegated administrator.
fn get_delegated_admin_account(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let _: Map<String, Value> = parse_body(body)?;
    let org = ctx
        .world
        .organization()
        .filter(|_| ctx.world.is_management(ctx.account));
    let Some(org) = org else {
        return Err(access_denied(
            "Only the organization's management account can get the delegated administrator.",
        ));
    };
    Ok(match &org.delegated_admin {
        Some(admin) => json!({
            "delegatedAdmin": { "accountId": admin, "relationshipStatus": "ENABLED" }
        }),
        None => json!({}),
    })
}
