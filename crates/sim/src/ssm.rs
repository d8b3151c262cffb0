//! SSM (`ssm`, awsJson1_1, `AmazonSSM.<Op>`, PascalCase members, except
//! the lowercase `key`/`value` of `AssociationFilter` and `key`/`valueSet`
//! of `InstanceInformationFilter`, as the 2014-11-06 model spells them).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::paging;
use crate::scenario::{AssociationSpec, InstanceSpec, Timestamp};
use crate::wire::{parse_body, ts, ApiError, Ctx, Handler};

/// The dispatch table: one line per operation.
pub(crate) fn handler(op: &str) -> Option<Handler> {
    Some(match op {
        "ListAssociations" => list_associations,
        "DescribeAssociation" => describe_association,
        "DescribeAssociationExecutions" => describe_association_executions,
        "DescribeInstanceInformation" => describe_instance_information,
        _ => return None,
    })
}

/// An SSM error: the model spells the member `Message`; `message` is kept
/// too because SDKs read either.
fn err(code: &str, message: impl Into<String>) -> ApiError {
    let mut e = ApiError::bad_request(code, message);
    e.pascal_message = true;
    e
}

fn validation(message: impl Into<String>) -> ApiError {
    err("ValidationException", message)
}

fn invalid_token() -> ApiError {
    err("InvalidNextToken", "The specified token isn't valid.")
}

fn with_token(mut out: Value, next: Option<usize>, fp: u64) -> Value {
    paging::attach(&mut out, "NextToken", next, fp);
    out
}

fn targets_json(a: &AssociationSpec) -> Vec<Value> {
    a.targets
        .iter()
        .map(|t| json!({"Key": t.key, "Values": t.values}))
        .collect()
}

fn overview_json(a: &AssociationSpec) -> Value {
    let o = a.overview.clone().unwrap_or_default();
    let status = o.status.unwrap_or_else(|| "Pending".into());
    json!({
        "DetailedStatus": o.detailed_status.unwrap_or_else(|| status.clone()),
        "Status": status,
        "AssociationStatusAggregatedCount": o.counts,
    })
}

/// The members ListAssociations and DescribeAssociation share.
fn association_common(a: &AssociationSpec) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Name".into(), json!(a.name));
    m.insert("AssociationId".into(), json!(a.association_id));
    m.insert("AssociationVersion".into(), json!(a.association_version));
    m.insert("DocumentVersion".into(), json!(a.document_version));
    m.insert("Targets".into(), Value::Array(targets_json(a)));
    m.insert("Overview".into(), overview_json(a));
    if let Some(n) = &a.association_name {
        m.insert("AssociationName".into(), json!(n));
    }
    if let Some(s) = &a.schedule_expression {
        m.insert("ScheduleExpression".into(), json!(s));
    }
    if let Some(o) = a.schedule_offset {
        m.insert("ScheduleOffset".into(), json!(o));
    }
    if let Some(t) = &a.last_execution_date {
        m.insert("LastExecutionDate".into(), ts(t));
    }
    m
}

fn targets_instance(a: &AssociationSpec, instance: &str) -> bool {
    a.targets
        .iter()
        .any(|t| t.key == "InstanceIds" && t.values.iter().any(|v| v == "*" || v == instance))
}

#[derive(Debug, Deserialize)]
struct AssociationFilter {
    key: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAssociationsRequest {
    #[serde(default)]
    association_filter_list: Vec<AssociationFilter>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn parse_time(value: &str) -> Result<f64, ApiError> {
    // The filter value is a string; accept ISO 8601 as the console sends and
    // epoch seconds as some scripts do.
    if let Ok(n) = value.parse::<f64>() {
        return Ok(n);
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .map_err(|_| validation(format!("Invalid date value '{value}' in filter.")))
}

fn association_matches(a: &AssociationSpec, f: &AssociationFilter) -> Result<bool, ApiError> {
    let last = a.last_execution_date.as_ref().map(Timestamp::epoch);
    Ok(match f.key.as_str() {
        "InstanceId" => targets_instance(a, &f.value),
        "Name" => a.name == f.value,
        "AssociationId" => a.association_id.as_deref() == Some(f.value.as_str()),
        "AssociationStatusName" => {
            a.overview.as_ref().and_then(|o| o.status.as_deref()) == Some(f.value.as_str())
        }
        "LastExecutedBefore" => last.is_some_and(|t| t < parse_time(&f.value).unwrap_or(f64::MIN)),
        "LastExecutedAfter" => last.is_some_and(|t| t > parse_time(&f.value).unwrap_or(f64::MAX)),
        "AssociationName" => a.association_name.as_deref() == Some(f.value.as_str()),
        "ResourceGroupName" => a.targets.iter().any(|t| {
            t.key == "resource-groups:Name" && t.values.iter().any(|v| v == &f.value)
        }),
        // Hybrid cloud connectors are not simulated; nothing matches.
        "CloudConnectorId" => false,
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'associationFilterList.member.key' failed to satisfy constraint: Member must satisfy enum value set: [InstanceId, Name, AssociationId, AssociationStatusName, LastExecutedBefore, LastExecutedAfter, AssociationName, ResourceGroupName, CloudConnectorId]"
            )))
        }
    })
}

fn list_associations(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: ListAssociationsRequest = parse_body(body)?;
    // The model caps MaxResults at 50; AWS defaults to the maximum here.
    let size = paging::page_size(req.max_results, 50, 1, 50, "maxResults").map_err(validation)?;
    for f in &req.association_filter_list {
        if f.value.is_empty() {
            return Err(validation("Filter values must not be empty."));
        }
        if f.key.starts_with("LastExecuted") {
            parse_time(&f.value)?;
        }
    }
    let fp = paging::fingerprint(&(
        "ListAssociations",
        ctx.account,
        ctx.region,
        format!("{:?}", req.association_filter_list),
    ));
    let start = paging::start(req.next_token.as_deref(), fp, invalid_token)?;
    let all: &[AssociationSpec] = ctx
        .data()
        .map(|(r, _)| r.associations.as_slice())
        .unwrap_or(&[]);
    // Validate filter keys once up front so an unknown key is an error even
    // when there is nothing to list.
    for f in &req.association_filter_list {
        association_matches(&AssociationSpec::default(), f)?;
    }
    let (page, next) = paging::page(all, start, size, |a| {
        req.association_filter_list
            .iter()
            .all(|f| association_matches(a, f).unwrap_or(false))
    });
    let items: Vec<Value> = page
        .iter()
        .map(|a| Value::Object(association_common(a)))
        .collect();
    Ok(with_token(json!({ "Associations": items }), next, fp))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAssociationRequest {
    name: Option<String>,
    instance_id: Option<String>,
    association_id: Option<String>,
    association_version: Option<String>,
}

fn find_association<'a>(ctx: &Ctx<'a>, id: &str) -> Option<&'a AssociationSpec> {
    let (r, idx) = ctx.data()?;
    idx.association_by_id
        .get(id)
        .and_then(|&i| r.associations.get(i))
}

fn does_not_exist() -> ApiError {
    err(
        "AssociationDoesNotExist",
        "The specified association doesn't exist.",
    )
}

fn describe_association(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: DescribeAssociationRequest = parse_body(body)?;
    let found = match (&req.association_id, &req.name, &req.instance_id) {
        (Some(id), _, _) => find_association(ctx, id),
        (None, Some(name), Some(instance)) => ctx.data().and_then(|(r, _)| {
            r.associations
                .iter()
                .find(|a| &a.name == name && targets_instance(a, instance))
        }),
        _ => {
            return Err(validation(
                "Specify an AssociationId, or a Name and an InstanceId.",
            ))
        }
    };
    let a = found.ok_or_else(does_not_exist)?;
    if let Some(v) = req.association_version.as_deref() {
        if v != "$LATEST" && Some(v) != a.association_version.as_deref() {
            return Err(err(
                "InvalidAssociationVersion",
                format!("Association version {v} does not exist."),
            ));
        }
    }
    let mut m = association_common(a);
    let created = a.created.unwrap_or(Timestamp(chrono::Utc::now()));
    m.insert("Date".into(), ts(&created));
    m.insert("LastUpdateAssociationDate".into(), ts(&created));
    let overview_status = a
        .overview
        .as_ref()
        .and_then(|o| o.status.as_deref())
        .unwrap_or("Pending");
    // AssociationStatusName only has Pending, Success and Failed.
    let status_name = match overview_status {
        "Success" => "Success",
        "Failed" => "Failed",
        _ => "Pending",
    };
    m.insert(
        "Status".into(),
        json!({
            "Date": ts(&a.last_execution_date.unwrap_or(created)),
            "Name": status_name,
            "Message": format!("Association status: {overview_status}"),
        }),
    );
    m.insert("Parameters".into(), json!(a.parameters));
    m.insert("ApplyOnlyAtCronInterval".into(), json!(false));
    if let Some(t) = &a.last_successful_execution_date {
        m.insert("LastSuccessfulExecutionDate".into(), ts(t));
    }
    Ok(json!({ "AssociationDescription": m }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExecutionFilter {
    key: String,
    value: String,
    #[serde(rename = "Type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAssociationExecutionsRequest {
    association_id: Option<String>,
    #[serde(default)]
    filters: Vec<ExecutionFilter>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn describe_association_executions(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: DescribeAssociationExecutionsRequest = parse_body(body)?;
    let Some(id) = req.association_id.as_deref() else {
        return Err(validation("AssociationId is required."));
    };
    let size = paging::page_size(req.max_results, 50, 1, 50, "maxResults").map_err(validation)?;
    let a = find_association(ctx, id).ok_or_else(does_not_exist)?;
    let mut created_bounds = Vec::new();
    for f in &req.filters {
        if !matches!(f.kind.as_str(), "EQUAL" | "LESS_THAN" | "GREATER_THAN") {
            return Err(validation(format!("Invalid filter type {}.", f.kind)));
        }
        match f.key.as_str() {
            "ExecutionId" | "Status" => {}
            "CreatedTime" => created_bounds.push((f.kind.as_str(), parse_time(&f.value)?)),
            other => return Err(validation(format!("Invalid filter key {other}."))),
        }
    }
    let fp = paging::fingerprint(&(
        "DescribeAssociationExecutions",
        ctx.account,
        ctx.region,
        id,
        format!("{:?}", req.filters),
    ));
    let start = paging::start(req.next_token.as_deref(), fp, invalid_token)?;
    let (page, next) = paging::page(&a.executions, start, size, |e| {
        let t = e.created_time.epoch();
        req.filters.iter().all(|f| match f.key.as_str() {
            "ExecutionId" => e.execution_id.as_deref() == Some(f.value.as_str()),
            "Status" => e.status.as_deref() == Some(f.value.as_str()),
            _ => true,
        }) && created_bounds.iter().all(|(kind, bound)| match *kind {
            "LESS_THAN" => t < *bound,
            "GREATER_THAN" => t > *bound,
            _ => (t - bound).abs() < 1.0,
        })
    });
    let items: Vec<Value> = page
        .iter()
        .map(|e| {
            json!({
                "AssociationId": a.association_id,
                "AssociationVersion": a.association_version,
                "ExecutionId": e.execution_id,
                "Status": e.status,
                "DetailedStatus": e.detailed_status,
                "CreatedTime": ts(&e.created_time),
                "LastExecutionDate": ts(&e.last_execution_date.unwrap_or(e.created_time)),
                "ResourceCountByStatus": e.resource_count_by_status,
            })
        })
        .collect();
    Ok(with_token(
        json!({ "AssociationExecutions": items }),
        next,
        fp,
    ))
}

#[derive(Debug, Deserialize)]
struct InstanceInformationFilter {
    key: String,
    #[serde(rename = "valueSet")]
    value_set: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StringFilter {
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeInstanceInformationRequest {
    #[serde(default)]
    instance_information_filter_list: Vec<InstanceInformationFilter>,
    #[serde(default)]
    filters: Vec<StringFilter>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

fn instance_field<'a>(i: &'a InstanceSpec, key: &str) -> Result<Option<&'a str>, ApiError> {
    Ok(match key {
        "InstanceIds" => Some(i.instance_id.as_str()),
        "AgentVersion" => i.agent_version.as_deref(),
        "PingStatus" => i.ping_status.as_deref(),
        "PlatformTypes" => i.platform_type.as_deref(),
        "ResourceType" => i.resource_type.as_deref(),
        "AssociationStatus" => i.association_status.as_deref(),
        "ActivationIds" | "IamRole" => None,
        other => {
            return Err(err(
                "InvalidFilterKey",
                format!("Filter key {other} is not valid."),
            ))
        }
    })
}

fn describe_instance_information(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: DescribeInstanceInformationRequest = parse_body(body)?;
    // MaxResultsEC2Compatible: 5–50, default 10 per the model docs.
    let size = paging::page_size(req.max_results, 10, 5, 50, "maxResults").map_err(validation)?;
    let filters: Vec<(&str, &[String])> = req
        .instance_information_filter_list
        .iter()
        .map(|f| (f.key.as_str(), f.value_set.as_slice()))
        .chain(
            req.filters
                .iter()
                .map(|f| (f.key.as_str(), f.values.as_slice())),
        )
        .collect();
    let probe = InstanceSpec::default();
    for (k, values) in &filters {
        instance_field(&probe, k)?;
        if values.is_empty() || values.len() > 100 {
            return Err(err(
                "InvalidInstanceInformationFilterValue",
                format!("Filter {k} needs 1 to 100 values."),
            ));
        }
    }
    let fp = paging::fingerprint(&(
        "DescribeInstanceInformation",
        ctx.account,
        ctx.region,
        format!("{filters:?}"),
    ));
    let start = paging::start(req.next_token.as_deref(), fp, invalid_token)?;
    let all: &[InstanceSpec] = ctx
        .data()
        .map(|(r, _)| r.instances.as_slice())
        .unwrap_or(&[]);
    let (page, next) = paging::page(all, start, size, |i| {
        filters.iter().all(|(k, values)| {
            instance_field(i, k)
                .ok()
                .flatten()
                .is_some_and(|v| values.iter().any(|w| w == v))
        })
    });
    let items: Vec<Value> = page.iter().map(|i| instance_json(i)).collect();
    Ok(with_token(
        json!({ "InstanceInformationList": items }),
        next,
        fp,
    ))
}

fn instance_json(i: &InstanceSpec) -> Value {
    let mut v = json!({
        "InstanceId": i.instance_id,
        "PingStatus": i.ping_status,
        "AgentVersion": i.agent_version,
        "IsLatestVersion": i.is_latest_version,
        "PlatformType": i.platform_type,
        "PlatformName": i.platform_name,
        "PlatformVersion": i.platform_version,
        "ResourceType": i.resource_type,
        "SourceId": i.instance_id,
        "SourceType": if i.resource_type.as_deref() == Some("ManagedInstance") {
            "AWS::SSM::ManagedInstance"
        } else {
            "AWS::EC2::Instance"
        },
    });
    if let Some(t) = &i.last_ping {
        v["LastPingDateTime"] = ts(t);
    }
    for (k, val) in [
        ("ComputerName", &i.computer_name),
        ("IPAddress", &i.ip_address),
        ("AssociationStatus", &i.association_status),
    ] {
        if let Some(s) = val {
            v[k] = json!(s);
        }
    }
    if let Some(t) = &i.last_association_execution_date {
        v["LastAssociationExecutionDate"] = ts(t);
    }
    if let Some(t) = &i.last_successful_association_execution_date {
        v["LastSuccessfulAssociationExecutionDate"] = ts(t);
    }
    v
}
