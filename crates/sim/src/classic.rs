//! Inspector classic (`inspector`, awsJson1_1, `InspectorService.<Op>`,
//! camelCase members). Shapes follow the 2016-02-16 model.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::paging;
use crate::scenario::{AssessmentRunSpec, ExclusionSpec, KeyValue, Timestamp};
use crate::server::lock;
use crate::wire::{parse_body, ts, ApiError, Ctx, Handler};

/// The dispatch table: one line per operation.
pub(crate) fn handler(op: &str) -> Option<Handler> {
    Some(match op {
        "ListAssessmentRuns" => list_assessment_runs,
        "DescribeAssessmentRuns" => describe_assessment_runs,
        "ListExclusions" => list_exclusions,
        "DescribeExclusions" => describe_exclusions,
        _ => return None,
    })
}

/// The answer of a region where Inspector classic is retired: the endpoint
/// no longer knows any classic operation.
pub(crate) fn retired(op: &str) -> ApiError {
    ApiError::bad_request(
        "UnknownOperationException",
        format!("{op}: Amazon Inspector Classic has been retired in this region (end of support 2026-05-20)."),
    )
}

/// `InvalidInputException` with the members the model requires.
fn invalid_input(error_code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidInputException", message)
        .with("errorCode", error_code)
        .with("canRetry", false)
}

fn no_such_entity(error_code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request("NoSuchEntityException", message)
        .with("errorCode", error_code)
        .with("canRetry", false)
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TimeRange {
    begin_date: Option<f64>,
    end_date: Option<f64>,
}

impl TimeRange {
    fn contains(&self, t: Option<&Timestamp>) -> bool {
        let Some(t) = t else { return false };
        let e = t.epoch();
        self.begin_date.is_none_or(|b| e >= b) && self.end_date.is_none_or(|end| e <= end)
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DurationRange {
    min_seconds: Option<i64>,
    max_seconds: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RunFilter {
    name_pattern: Option<String>,
    #[serde(default)]
    states: Vec<String>,
    duration_range: Option<DurationRange>,
    #[serde(default)]
    rules_package_arns: Vec<String>,
    start_time_range: Option<TimeRange>,
    completion_time_range: Option<TimeRange>,
    state_change_time_range: Option<TimeRange>,
}

impl RunFilter {
    fn accepts(&self, run: &AssessmentRunSpec) -> bool {
        // AWS documents namePattern as a pattern; a substring match (with
        // `*` ignored) is what clients rely on in practice.
        let name_ok = self.name_pattern.as_deref().is_none_or(|p| {
            let needle = p.replace('*', "");
            run.name.as_deref().unwrap_or("").contains(&needle)
        });
        let state = run.state.as_deref().unwrap_or("COMPLETED");
        let duration = run.duration_seconds.unwrap_or(3600);
        name_ok
            && (self.states.is_empty() || self.states.iter().any(|s| s == state))
            && self.duration_range.as_ref().is_none_or(|d| {
                d.min_seconds.is_none_or(|m| duration >= m)
                    && d.max_seconds.is_none_or(|m| duration <= m)
            })
            && (self.rules_package_arns.is_empty()
                || self
                    .rules_package_arns
                    .iter()
                    .any(|p| run.rules_packages.contains(p)))
            && self
                .start_time_range
                .as_ref()
                .is_none_or(|r| r.contains(run.started_at.as_ref()))
            && self
                .completion_time_range
                .as_ref()
                .is_none_or(|r| r.contains(run.completed_at.as_ref()))
            && self
                .state_change_time_range
                .as_ref()
                .is_none_or(|r| r.contains(Some(&state_changed_at(run))))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListAssessmentRunsRequest {
    #[serde(default)]
    assessment_template_arns: Vec<String>,
    #[serde(default)]
    filter: RunFilter,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn invalid_token() -> ApiError {
    invalid_input("INVALID_PAGINATION_TOKEN", "The nextToken is invalid.")
}

fn list_assessment_runs(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: ListAssessmentRunsRequest = parse_body(body)?;
    // Default 10, maximum 500, per the model's documentation of maxResults.
    let size = paging::page_size(req.max_results, 10, 1, 500, "maxResults")
        .map_err(|m| invalid_input("INVALID_MAX_RESULTS", m))?;
    let fp = paging::fingerprint(&(
        "ListAssessmentRuns",
        ctx.account,
        ctx.region,
        format!("{:?}{:?}", req.assessment_template_arns, req.filter),
    ));
    let start = paging::start(req.next_token.as_deref(), fp, invalid_token)?;
    let runs: &[AssessmentRunSpec] = ctx
        .data()
        .map(|(r, _)| r.assessment_runs.as_slice())
        .unwrap_or(&[]);
    let (page, next) = paging::page(runs, start, size, |run| {
        (req.assessment_template_arns.is_empty()
            || run
                .template_arn
                .as_ref()
                .is_some_and(|t| req.assessment_template_arns.contains(t)))
            && req.filter.accepts(run)
    });
    let mut out =
        json!({ "assessmentRunArns": page.iter().map(|r| r.arn.as_str()).collect::<Vec<_>>() });
    paging::attach(&mut out, "nextToken", next, fp);
    Ok(out)
}

fn state_changed_at(run: &AssessmentRunSpec) -> Timestamp {
    run.completed_at
        .or(run.started_at)
        .or(run.created_at)
        .unwrap_or(Timestamp(chrono::DateTime::UNIX_EPOCH))
}

fn run_json(run: &AssessmentRunSpec) -> Value {
    let state = run.state.as_deref().unwrap_or("COMPLETED");
    let mut changes = Vec::new();
    if let Some(c) = &run.created_at {
        changes.push(json!({"stateChangedAt": ts(c), "state": "CREATED"}));
    }
    if let Some(s) = &run.started_at {
        changes.push(json!({"stateChangedAt": ts(s), "state": "COLLECTING_DATA"}));
    }
    if state != "CREATED" && state != "COLLECTING_DATA" {
        changes.push(json!({"stateChangedAt": ts(&state_changed_at(run)), "state": state}));
    }
    let mut v = json!({
        "arn": run.arn,
        "name": run.name.as_deref().unwrap_or(""),
        "assessmentTemplateArn": run.template_arn.as_deref().unwrap_or(""),
        "state": state,
        "durationInSeconds": run.duration_seconds.unwrap_or(3600),
        "rulesPackageArns": run.rules_packages,
        "userAttributesForFindings": [],
        "stateChangedAt": ts(&state_changed_at(run)),
        "dataCollected": run.data_collected.unwrap_or(true),
        "stateChanges": changes,
        "notifications": [],
        "findingCounts": run.finding_counts,
    });
    if let Some(c) = &run.created_at {
        v["createdAt"] = ts(c);
    }
    if let Some(s) = &run.started_at {
        v["startedAt"] = ts(s);
    }
    if let Some(c) = &run.completed_at {
        v["completedAt"] = ts(c);
    }
    v
}

fn failed(code: &str, retryable: bool) -> Value {
    json!({"failureCode": code, "retryable": retryable})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeAssessmentRunsRequest {
    #[serde(default)]
    assessment_run_arns: Vec<String>,
}

fn describe_assessment_runs(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: DescribeAssessmentRunsRequest = parse_body(body)?;
    let n = req.assessment_run_arns.len();
    if !(1..=10).contains(&n) {
        return Err(invalid_input(
            "INVALID_NUMBER_OF_ASSESSMENT_RUN_ARNS",
            format!("assessmentRunArns must hold 1 to 10 ARNs, got {n}."),
        ));
    }
    let data = ctx.data();
    let mut runs = Vec::new();
    let mut failed_items = Map::new();
    for arn in &req.assessment_run_arns {
        let found = data.and_then(|(r, idx)| {
            idx.run_by_arn
                .get(arn)
                .and_then(|&i| r.assessment_runs.get(i))
        });
        match found {
            Some(run) => runs.push(run_json(run)),
            None => {
                failed_items.insert(arn.clone(), failed("ITEM_DOES_NOT_EXIST", false));
            }
        }
    }
    Ok(json!({"assessmentRuns": runs, "failedItems": failed_items}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListExclusionsRequest {
    assessment_run_arn: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn list_exclusions(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: ListExclusionsRequest = parse_body(body)?;
    let Some(run_arn) = req.assessment_run_arn.filter(|a| !a.is_empty()) else {
        return Err(invalid_input(
            "INVALID_ASSESSMENT_RUN_ARN",
            "assessmentRunArn is required.",
        ));
    };
    // Default 100, maximum 500, per the model's documentation of maxResults.
    let size = paging::page_size(req.max_results, 100, 1, 500, "maxResults")
        .map_err(|m| invalid_input("INVALID_MAX_RESULTS", m))?;
    let run = ctx.data().and_then(|(r, idx)| {
        idx.run_by_arn
            .get(&run_arn)
            .and_then(|&i| r.assessment_runs.get(i))
    });
    let Some(run) = run else {
        return Err(no_such_entity(
            "ASSESSMENT_RUN_DOES_NOT_EXIST",
            format!("Assessment run {run_arn} does not exist."),
        ));
    };
    let fp = paging::fingerprint(&("ListExclusions", ctx.account, ctx.region, &run_arn));
    let start = paging::start(req.next_token.as_deref(), fp, invalid_token)?;
    let (page, next) = paging::page(&run.exclusions, start, size, |_| true);
    let arns: Vec<&str> = page.iter().filter_map(|e| e.arn.as_deref()).collect();
    let mut out = json!({ "exclusionArns": arns });
    paging::attach(&mut out, "nextToken", next, fp);
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeExclusionsRequest {
    #[serde(default)]
    exclusion_arns: Vec<String>,
    locale: Option<String>,
}

fn kv_json(items: &[KeyValue]) -> Vec<Value> {
    items
        .iter()
        .map(|kv| {
            let mut v = json!({"key": kv.key});
            if let Some(val) = &kv.value {
                v["value"] = Value::String(val.clone());
            }
            v
        })
        .collect()
}

fn exclusion_json(e: &ExclusionSpec) -> Value {
    json!({
        "arn": e.arn.as_deref().unwrap_or(""),
        "title": e.title,
        "description": e.description,
        "recommendation": e.recommendation,
        "scopes": kv_json(&e.scopes),
        "attributes": kv_json(&e.attributes),
    })
}

fn describe_exclusions(ctx: &Ctx<'_>, body: &[u8]) -> Result<Value, ApiError> {
    let req: DescribeExclusionsRequest = parse_body(body)?;
    let n = req.exclusion_arns.len();
    if !(1..=100).contains(&n) {
        // The model's InvalidInputErrorCode has no exclusion-specific count
        // code; the finding one is the closest member of the enum.
        return Err(invalid_input(
            "INVALID_NUMBER_OF_FINDING_ARNS",
            format!("exclusionArns must hold 1 to 100 ARNs, got {n}."),
        ));
    }
    if let Some(l) = req.locale.as_deref() {
        if l != "EN_US" {
            return Err(invalid_input(
                "INVALID_LOCALE",
                format!("Locale {l} is not supported."),
            ));
        }
    }
    let data = ctx.data();
    let mut exclusions = BTreeMap::new();
    let mut failed_items = Map::new();
    for arn in &req.exclusion_arns {
        let found = data.and_then(|(r, idx)| {
            idx.exclusion_by_arn.get(arn).and_then(|&(ri, ei)| {
                r.assessment_runs
                    .get(ri)
                    .and_then(|run| run.exclusions.get(ei))
            })
        });
        match found {
            None => {
                failed_items.insert(arn.clone(), failed("ITEM_DOES_NOT_EXIST", false));
            }
            Some(e) if e.fail_once && lock(&ctx.shared.failed_once).insert(arn.clone()) => {
                failed_items.insert(arn.clone(), failed("INTERNAL_ERROR", true));
            }
            Some(e) => {
                exclusions.insert(arn.clone(), exclusion_json(e));
            }
        }
    }
    Ok(json!({"exclusions": exclusions, "failedItems": failed_items}))
}
