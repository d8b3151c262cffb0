//! How `blindspot check` prints results: a table for people, one JSON document
//! for programs.

use blindspot_core::{Evaluation, EvaluationStatus, Finding, Severity};
use serde::Serialize;
use std::fmt::Write as _;

use crate::exit;

/// The JSON document of `check --format json`.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    /// Every finding, most severe first.
    pub findings: Vec<&'a Finding>,
    /// One entry per (rule, account, region).
    pub evaluations: Vec<EvaluationSummary<'a>>,
}

/// An evaluation without its findings.
#[derive(Debug, Serialize)]
pub struct EvaluationSummary<'a> {
    /// Rule ID.
    pub rule: &'a str,
    /// Account.
    pub account: &'a str,
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
pub fn report(evaluations: &[Evaluation]) -> CheckReport<'_> {
    CheckReport {
        findings: sorted_findings(evaluations),
        evaluations: evaluations
            .iter()
            .map(|e| EvaluationSummary {
                rule: &e.rule,
                account: &e.scope.account,
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
pub fn table(evaluations: &[Evaluation]) -> String {
    let mut out = String::new();
    let findings = sorted_findings(evaluations);
    if findings.is_empty() {
        out.push_str("No findings.\n");
    } else {
        let _ = writeln!(out, "{} finding(s):\n", findings.len());
    }
    for f in &findings {
        let _ = writeln!(
            out,
            "{:<8} {}  {}/{}  {}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            f.account,
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
    for e in evaluations {
        let _ = write!(
            out,
            "  {:<width$}  {}/{:<16} {:<11} {:>4} finding(s)",
            e.rule,
            e.scope.account,
            e.scope.region,
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
