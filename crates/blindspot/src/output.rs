//! How `blindspot check` prints results: a table for people, one JSON document
//! for programs.

use blindspot_core::{Evaluation, EvaluationStatus, Finding, Severity};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Account ID → name (from Organizations, or the config's name).
pub type AccountNames = BTreeMap<String, String>;

use crate::exit;

/// The JSON document of `check --format json`.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    /// Every finding, most severe first.
    pub findings: Vec<&'a Finding>,
    /// One entry per (rule, account, region).
    pub evaluations: Vec<EvaluationSummary<'a>>,
    /// The name of every account that has one, by ID.
    pub accounts: &'a AccountNames,
}

/// An evaluation without its findings.
#[derive(Debug, Serialize)]
pub struct EvaluationSummary<'a> {
    /// Rule ID.
    pub rule: &'a str,
    /// Account.
    pub account: &'a str,
    /// The account's name, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<&'a str>,
    /// Region.
    pub region: &'a str,
    /// `ok`, `error` or `unavailable`.
    pub status: EvaluationStatus,
    /// Why it is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// Findings it reported.
    pub findings: usize,
    /// Seconds it took.
    pub duration_seconds: f64,
    /// Rule-specific counters.
    pub counts: &'a std::collections::BTreeMap<String, u64>,
}

/// Orders findings most severe first, then by rule, place and resource, so
/// output is stable and the worst is on top.
pub fn sorted_findings(evaluations: &[Evaluation]) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = evaluations.iter().flat_map(|e| &e.findings).collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.account.cmp(&b.account))
            .then_with(|| a.region.cmp(&b.region))
            .then_with(|| a.resource.cmp(&b.resource))
            .then_with(|| a.code.cmp(&b.code))
    });
    findings
}

/// Builds the JSON report.
pub fn report<'a>(evaluations: &'a [Evaluation], names: &'a AccountNames) -> CheckReport<'a> {
    CheckReport {
        accounts: names,
        findings: sorted_findings(evaluations),
        evaluations: evaluations
            .iter()
            .map(|e| EvaluationSummary {
                rule: &e.rule,
                account: &e.scope.account,
                account_name: names.get(&e.scope.account).map(String::as_str),
                region: &e.scope.region,
                status: e.status,
                error: e.error.as_deref(),
                findings: e.findings.len(),
                duration_seconds: (e.finished_at - e.started_at)
                    .to_std()
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0),
                counts: &e.counts,
            })
            .collect(),
    }
}

/// Renders the human table: each finding as a short block, then one line per
/// evaluation.
pub fn table(evaluations: &[Evaluation], names: &AccountNames) -> String {
    let account = |id: &str| match names.get(id) {
        Some(name) => format!("{id} ({name})"),
        None => id.to_owned(),
    };
    let mut out = String::new();
    let findings = sorted_findings(evaluations);
    out.push_str(&summary(evaluations, findings.len()));
    out.push_str(if findings.is_empty() { ".\n" } else { ":\n\n" });
    for f in &findings {
        let _ = writeln!(
            out,
            "{:<8} {}  {}/{}  {}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            account(&f.account),
            f.region,
            f.resource
        );
        let _ = writeln!(out, "  {} [{}]", f.title, f.code);
        if !f.description.is_empty() {
            let _ = writeln!(out, "  {}", f.description);
        }
        if !f.recommendation.is_empty() {
            let _ = writeln!(out, "  Recommendation: {}", f.recommendation);
        }
        if let Some(fix) = &f.remediation {
            let _ = writeln!(out, "  Fix: {fix}");
        }
        let _ = writeln!(out, "  id {}\n", f.id);
    }
    let _ = writeln!(out, "Evaluations:");
    let width = evaluations.iter().map(|e| e.rule.len()).max().unwrap_or(4);
    let place = |e: &Evaluation| format!("{}/{}", account(&e.scope.account), e.scope.region);
    let place_width = evaluations
        .iter()
        .map(|e| place(e).len())
        .max()
        .unwrap_or(0);
    for e in evaluations {
        let _ = write!(
            out,
            "  {:<width$}  {:<place_width$} {:<11} {:>4} finding(s)",
            e.rule,
            place(e),
            e.status.as_str(),
            e.findings.len(),
        );
        if let Some(err) = &e.error {
            let _ = write!(out, "  {err}");
        }
        out.push('\n');
    }
    out
}

/// The first line of the table: never more than was checked. "No findings"
/// only when every scope could be checked; "N findings in M of K scopes"
/// when some could not; and when none could, why, instead of a count.
pub fn summary(evaluations: &[Evaluation], findings: usize) -> String {
    let total = evaluations.len();
    let failed: Vec<&Evaluation> = evaluations
        .iter()
        .filter(|e| e.status == EvaluationStatus::Error)
        .collect();
    let checked = total - failed.len();
    let noun = |n: usize| if n == 1 { "finding" } else { "findings" };
    match (checked, failed.first()) {
        (0, Some(first)) => {
            let mut reasons: Vec<&str> = failed.iter().filter_map(|e| e.error.as_deref()).collect();
            reasons.sort_unstable();
            reasons.dedup();
            let why = match reasons.as_slice() {
                [one] => format!(": {one}"),
                [] => String::new(),
                many => format!(
                    " ({} different errors; the first: {})",
                    many.len(),
                    first.error.as_deref().unwrap_or("unknown")
                ),
            };
            format!("Nothing could be evaluated: all {total} scopes failed{why}")
        }
        (_, None) if findings == 0 => "No findings".to_owned(),
        (_, None) => format!("{findings} {}", noun(findings)),
        (_, Some(_)) => format!(
            "{findings} {} in {checked} of {total} scopes; {} could not be checked",
            noun(findings),
            failed.len()
        ),
    }
}

/// The exit code of `check` (see [`crate::exit`]): incomplete when any
/// evaluation failed, else findings when any is at least `fail_on`, else OK.
/// `unavailable` alone is not a failure: the service is simply not there.
pub fn exit_code(evaluations: &[Evaluation], fail_on: Severity) -> u8 {
    if evaluations
        .iter()
        .any(|e| e.status == EvaluationStatus::Error)
    {
        exit::INCOMPLETE
    } else if evaluations
        .iter()
        .flat_map(|e| &e.findings)
        .any(|f| f.severity >= fail_on)
    {
        exit::FINDINGS
    } else {
        exit::OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blindspot_core::{RuleError, RuleReport, Scope};
    use chrono::{TimeZone, Utc};

    fn evaluation(region: &str, result: Result<usize, &str>) -> Evaluation {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let scope = Scope::new("111122223333", region);
        let result = match result {
            Ok(n) => Ok(RuleReport {
                findings: (0..n)
                    .map(|i| {
                        Finding::new("r", "C", Severity::Medium, &scope, &format!("i-{i}"), "t")
                    })
                    .collect(),
                ..RuleReport::default()
            }),
            Err(why) => Err(RuleError::Failed(why.to_owned())),
        };
        Evaluation::from_result("r", &scope, at, at, result)
    }

    #[test]
    fn the_summary_never_claims_more_than_was_checked() {
        let cases: [(&[Result<usize, &str>], &str); 6] = [
            (&[Ok(0), Ok(0)], "No findings"),
            (&[Ok(1), Ok(2)], "3 findings"),
            (&[Ok(1)], "1 finding"),
            (
                &[Ok(2), Err("denied")],
                "2 findings in 1 of 2 scopes; 1 could not be checked",
            ),
            (
                &[Ok(0), Err("denied"), Err("throttled")],
                "0 findings in 1 of 3 scopes; 2 could not be checked",
            ),
            (
                &[Err("no AWS credentials"), Err("no AWS credentials")],
                "Nothing could be evaluated: all 2 scopes failed: no AWS credentials",
            ),
        ];
        for (results, expected) in cases {
            let evaluations: Vec<Evaluation> = results
                .iter()
                .enumerate()
                .map(|(i, r)| evaluation(&format!("r-{i}"), *r))
                .collect();
            let findings = evaluations.iter().map(|e| e.findings.len()).sum();
            assert_eq!(summary(&evaluations, findings), expected, "{results:?}");
        }
        let table = table(
            &[evaluation("a", Err("x")), evaluation("b", Err("x"))],
            &AccountNames::new(),
        );
        assert!(!table.contains("No findings"), "{table}");
    }
}
