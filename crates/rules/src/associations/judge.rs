//! The verdict on one region's [`Snapshot`]: synchronous and pure, a
//! function of the snapshot, the config, the scope and `now`.
//!
//! Findings come in a fixed order: missing associations (in the order of the
//! expectations), the duplicate inventory association, then per examined
//! association its document, targets, schedule, health and staleness.

use super::config::{AssociationsConfig, ExpectedAssociation, Platform, Severities};
use super::fetch::{ManagedNodes, Snapshot};
use super::{
    ASSOCIATION_MISSING, DOCUMENT_MISMATCH, DUPLICATE_INVENTORY_ASSOCIATION, EXECUTION_FAILED,
    EXECUTION_STALE, ID, INVENTORY_DOCUMENT, SCHEDULE_TOO_SLOW, SCHEDULE_UNPARSEABLE,
    TARGETS_NARROWED,
};
use crate::text::{duration, rate_expression, shell_word};
use blindspot_aws::ssm::{Association, AssociationExecution};
use blindspot_core::{Finding, Measurement, RuleReport, Schedule, ScheduleError, Scope, Severity};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// An association the rule examines against an expectation.
#[derive(Debug, Clone, Copy)]
pub struct Examined<'a> {
    /// The association as ListAssociations returned it.
    pub listed: &'a Association,
    /// The expectation it is checked against.
    pub expected: &'a ExpectedAssociation,
    /// Whether it stands in for the missing association `expected` names.
    pub stand_in: bool,
}

/// The associations to examine, in the order of `expectations`: each
/// expected one found by name, or else, for an inventory expectation, the
/// first inventory association that targets all instances. Inspector relies
/// on such an association instead of creating its own.
pub fn examined<'a>(
    associations: &'a [Association],
    expectations: &'a [ExpectedAssociation],
) -> Vec<Examined<'a>> {
    let mut out = Vec::new();
    for expected in expectations {
        let by_name = associations
            .iter()
            .find(|a| a.association_name.as_deref() == Some(expected.name.as_str()));
        if let Some(listed) = by_name {
            out.push(Examined {
                listed,
                expected,
                stand_in: false,
            });
            continue;
        }
        let gathers_inventory = expected
            .documents
            .iter()
            .any(|d| document_name(d) == INVENTORY_DOCUMENT);
        if !gathers_inventory {
            continue;
        }
        let stand_in = associations
            .iter()
            .find(|a| is_inventory(a) && targets_all_instances(a));
        if let Some(listed) = stand_in {
            out.push(Examined {
                listed,
                expected,
                stand_in: true,
            });
        }
    }
    out
}

/// Whether the association's overview reports failure: status `Failed`, or
/// any target failed.
pub fn shows_failure(assoc: &Association) -> bool {
    let Some(overview) = &assoc.overview else {
        return false;
    };
    let status_failed = overview
        .status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("Failed"));
    status_failed || failed_targets(assoc) > 0
}

/// The verdict on one region.
pub fn judge(
    snapshot: &Snapshot,
    config: &AssociationsConfig,
    scope: &Scope,
    now: DateTime<Utc>,
) -> RuleReport {
    let expectations = config.expectations();
    let severities = &config.severities;
    let mut report = RuleReport::default();
    count_fetch(&mut report.counts, snapshot);

    let all = &snapshot.associations;
    let inventory: Vec<&Association> = all.iter().filter(|a| is_inventory(a)).collect();
    let examined = examined(all, &expectations);
    report.counts.insert("associations_listed".into(), len(all));
    report
        .counts
        .insert("inventory_associations".into(), len(&inventory));
    report
        .counts
        .insert("associations_examined".into(), len(&examined));

    for expected in &expectations {
        let found = examined.iter().any(|e| std::ptr::eq(e.expected, expected));
        if expected.required && !found {
            let nodes = NodeCount::of(&snapshot.managed_nodes, expected.platform);
            report
                .findings
                .push(missing(expected, nodes, severities, scope));
        }
    }

    if inventory.len() > 1 {
        // The one Inspector uses: its own, or the stand-in checked in its place.
        let kept = examined
            .iter()
            .find(|e| is_inventory(e.listed))
            .map(|e| e.listed.association_id.as_str());
        report
            .findings
            .push(duplicates(&inventory, kept, severities, scope));
    }

    for item in &examined {
        examine(
            &Subject::new(item, snapshot, scope),
            config,
            now,
            &mut report,
        );
    }
    report
}

fn len<T>(items: &[T]) -> u64 {
    u64::try_from(items.len()).unwrap_or(u64::MAX)
}

/// The calls behind the snapshot, and what the managed nodes came to.
fn count_fetch(counts: &mut BTreeMap<String, u64>, snapshot: &Snapshot) {
    let calls = snapshot.calls;
    counts.insert("list_pages".into(), calls.list_pages);
    // Present only when made, as each call is counted where it happens.
    for (key, n) in [
        ("describe_calls", calls.describe_calls),
        ("execution_pages", calls.execution_pages),
        ("managed_node_pages", calls.node_pages),
    ] {
        if n > 0 {
            counts.insert(key.into(), n);
        }
    }
    match &snapshot.managed_nodes {
        ManagedNodes::Listed(by_platform) => {
            counts.insert("managed_nodes".into(), by_platform.values().sum());
        }
        ManagedNodes::Unlisted(_) => {
            counts.insert("managed_nodes_unlisted".into(), 1);
        }
    }
}

/// What the region's managed nodes say about one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeCount<'a> {
    /// The expectation serves every node: nothing to weigh.
    NotWeighed,
    /// This many nodes of the platform.
    Counted(u64),
    /// The nodes could not be listed, with the error.
    Unknown(&'a blindspot_aws::AwsError),
}

impl<'a> NodeCount<'a> {
    fn of(nodes: &'a ManagedNodes, platform: Platform) -> Self {
        let Some(platform_type) = platform.platform_type() else {
            return NodeCount::NotWeighed;
        };
        match nodes {
            // The model spells `Windows`, but AWS sends values outside its
            // own enums; the case is not to be relied on.
            ManagedNodes::Listed(by_platform) => NodeCount::Counted(
                by_platform
                    .iter()
                    .filter(|(name, _)| name.eq_ignore_ascii_case(platform_type))
                    .map(|(_, n)| *n)
                    .sum(),
            ),
            ManagedNodes::Unlisted(err) => NodeCount::Unknown(err),
        }
    }
}

/// ASSOCIATION_MISSING, weighed by the nodes of the platform it serves.
fn missing(
    expected: &ExpectedAssociation,
    nodes: NodeCount<'_>,
    severities: &Severities,
    scope: &Scope,
) -> Finding {
    let region = &scope.region;
    let document = expected
        .documents
        .first()
        .cloned()
        .unwrap_or_else(|| INVENTORY_DOCUMENT.to_owned());
    let schedule = expected
        .max_interval
        .map(rate_expression)
        .unwrap_or_else(|| "rate(30 minutes)".into());
    let instances = expected.platform.instances();
    let impact = if document_name(&document) == INVENTORY_DOCUMENT {
        "Without it no software inventory is collected, so Inspector cannot see new or \
         changed packages on any instance and its EC2 findings go stale."
            .to_owned()
    } else {
        format!(
            "Without it Inspector's SSM plugin is not installed or not run on {instances}, so \
             they are not scanned for vulnerabilities."
        )
    };
    // A missing Windows plugin costs nothing in a region without Windows
    // nodes; it is still worth knowing before the first one is launched.
    let (severity, weighing) = match nodes {
        NodeCount::NotWeighed => (severities.association_missing, String::new()),
        NodeCount::Counted(0) => (
            Severity::Info,
            format!(
                " The region has no {instances} managed by SSM, so none loses scanning today; \
                 the first one launched would."
            ),
        ),
        NodeCount::Counted(1) => (
            severities.association_missing,
            format!(
                " The region has 1 {} managed by SSM.",
                instances.trim_end_matches('s')
            ),
        ),
        NodeCount::Counted(n) => (
            severities.association_missing,
            format!(" The region has {n} {instances} managed by SSM."),
        ),
        NodeCount::Unknown(err) => (
            severities.association_missing,
            format!(
                " The managed nodes could not be listed ({err}), so blindspot cannot tell how \
                 many {instances} lose scanning."
            ),
        ),
    };
    let mut finding = Finding::new(
        ID,
        ASSOCIATION_MISSING,
        severity,
        scope,
        &expected.name,
        format!("SSM association {} is missing", expected.name),
    )
    .description(format!(
        "The State Manager association {} does not exist in this region. {impact}{weighing}",
        expected.name
    ))
    .recommendation(
        "Recreate the association. Deactivating and reactivating Amazon EC2 scanning in \
         Inspector also recreates its associations.",
    )
    .remediation(format!(
        "aws ssm create-association --association-name {} --name {document} --targets \
         Key=InstanceIds,Values=* --schedule-expression \"{schedule}\" --region {region}",
        shell_word(&expected.name)
    ))
    .detail("association_name", &expected.name)
    .detail("document", &document)
    .detail("accepted_documents", &expected.documents)
    .detail("platform", expected.platform)
    .detail(
        "expected_interval_seconds",
        expected.max_interval.map(|d| d.as_secs()),
    );
    match nodes {
        NodeCount::NotWeighed => {}
        NodeCount::Counted(n) => finding = finding.detail("managed_nodes", n),
        NodeCount::Unknown(err) => {
            finding = finding
                .detail("managed_nodes", None::<u64>)
                .detail("managed_nodes_error", err.to_string());
        }
    }
    finding
}

/// DUPLICATE_INVENTORY_ASSOCIATION over every inventory association.
fn duplicates(
    inventory: &[&Association],
    kept: Option<&str>,
    severities: &Severities,
    scope: &Scope,
) -> Finding {
    let region = &scope.region;
    let names: Vec<String> = inventory
        .iter()
        .map(|a| match a.association_name.as_deref() {
            Some(name) if !name.is_empty() => format!("{name} ({})", a.association_id),
            _ => format!("unnamed association {}", a.association_id),
        })
        .collect();
    let remediation: Vec<String> = inventory
        .iter()
        .filter(|a| Some(a.association_id.as_str()) != kept)
        .map(|a| {
            format!(
                "aws ssm delete-association --association-id {} --region {region}",
                shell_word(&a.association_id)
            )
        })
        .collect();
    let listed: Vec<serde_json::Value> = inventory
        .iter()
        .map(|a| {
            serde_json::json!({
                "association_id": a.association_id,
                "association_name": a.association_name,
                "schedule": a.schedule_expression,
                "targets": targets_text(a),
            })
        })
        .collect();
    let finding = Finding::new(
        ID,
        DUPLICATE_INVENTORY_ASSOCIATION,
        severities.duplicate_inventory_association,
        scope,
        INVENTORY_DOCUMENT,
        format!("{} associations run {INVENTORY_DOCUMENT}", inventory.len()),
    )
    .description(format!(
        "{} State Manager associations run {INVENTORY_DOCUMENT}: {}. An instance runs only one \
         inventory association, so a second one (often user-created) can stop Inspector's own \
         from running, and Inspector then sees the software inventory only as often as the \
         other association collects it.",
        inventory.len(),
        names.join(", ")
    ))
    .recommendation(
        "Keep one inventory association that targets all instances at least every 30 minutes \
         (Inspector's own) and delete the others.",
    )
    .detail("document", INVENTORY_DOCUMENT)
    .detail("associations", listed)
    .detail("kept_association_id", kept);
    // With no association Inspector relies on, deleting "the others" would
    // delete them all: leave the choice to the operator.
    if remediation.is_empty() || kept.is_none() {
        finding
    } else {
        finding.remediation(remediation.join(" && "))
    }
}

/// One examined association in context: what every finding about it shares.
struct Subject<'a> {
    /// The association, described.
    assoc: &'a Association,
    expected: &'a ExpectedAssociation,
    stand_in: bool,
    /// Its newest execution, when it shows failure and one was read.
    latest_execution: Option<&'a AssociationExecution>,
    /// The finding's resource: its name, or its ID when unnamed.
    resource: &'a str,
    /// Its document's name, even when given as an ARN.
    document: &'a str,
    /// How descriptions refer to it, naming what it stands in for.
    role: String,
    scope: &'a Scope,
}

impl<'a> Subject<'a> {
    fn new(item: &Examined<'a>, snapshot: &'a Snapshot, scope: &'a Scope) -> Self {
        let id = &item.listed.association_id;
        // A snapshot built without describing it still has the listing.
        let assoc = snapshot.described.get(id).unwrap_or(item.listed);
        let resource = label(assoc);
        let role = if item.stand_in {
            format!(
                "{resource}, which Inspector uses instead of its own {},",
                item.expected.name
            )
        } else {
            resource.to_owned()
        };
        Subject {
            assoc,
            expected: item.expected,
            stand_in: item.stand_in,
            latest_execution: snapshot.latest_executions.get(id).and_then(Option::as_ref),
            resource,
            document: document_name(&assoc.document_name),
            role,
            scope,
        }
    }

    fn region(&self) -> &str {
        &self.scope.region
    }

    fn finding(&self, code: &str, severity: Severity, title: String) -> Finding {
        Finding::new(ID, code, severity, self.scope, self.resource, title)
    }

    /// The details every finding about the association carries, except
    /// EXECUTION_FAILED, which has its own.
    fn with_details(&self, finding: Finding) -> Finding {
        let assoc = self.assoc;
        finding
            .detail("association_id", &assoc.association_id)
            .detail("association_name", &assoc.association_name)
            .detail("document", self.document)
            .detail("schedule", &assoc.schedule_expression)
            .detail("schedule_offset", assoc.schedule_offset)
            .detail("targets", targets_text(assoc))
            .detail("platform", self.expected.platform)
            .detail(
                "expected_interval_seconds",
                self.expected.max_interval.map(|d| d.as_secs()),
            )
            .detail("last_execution", assoc.last_execution_date)
            .detail(
                "last_successful_execution",
                assoc.last_successful_execution_date,
            )
            .detail("stands_in_for", self.stands_in_for())
    }

    fn stands_in_for(&self) -> Option<&str> {
        self.stand_in.then_some(self.expected.name.as_str())
    }

    /// The measurements' label: the role it plays, not its own name.
    fn measure(&self, name: &str, value: f64) -> Measurement {
        Measurement::new(name, &[("association", &self.expected.name)], value)
    }
}

/// Every check of one examined association, in order.
fn examine(
    subject: &Subject<'_>,
    config: &AssociationsConfig,
    now: DateTime<Utc>,
    report: &mut RuleReport,
) {
    let severities = &config.severities;
    let RuleReport {
        findings,
        measurements,
        ..
    } = report;
    findings.extend(document_mismatch(subject, severities.document_mismatch));
    findings.extend(targets_narrowed(subject, severities.targets_narrowed));

    let assoc = subject.assoc;
    // No schedule: the association ran once when it was created.
    let schedule = assoc
        .schedule_expression
        .as_deref()
        .map(|expr| Schedule::parse_with_offset(expr, assoc.schedule_offset));
    let interval = match schedule {
        None => None,
        Some(Ok(schedule)) => schedule.effective_interval(now),
        Some(Err(err)) => {
            findings.push(schedule_unparseable(
                subject,
                severities.schedule_unparseable,
                &err,
            ));
            // Without an interval neither the speed nor the staleness can be
            // judged; the health still can.
            findings.extend(execution_failed(subject, severities.execution_failed));
            return;
        }
    };
    if let Some(every) = interval {
        measurements.push(subject.measure("association_interval_seconds", every.as_secs() as f64));
    }
    findings.extend(too_slow(subject, severities.schedule_too_slow, interval));
    findings.extend(execution_failed(subject, severities.execution_failed));

    let last = assoc
        .last_execution_date
        .or(assoc.last_successful_execution_date);
    if let Some(last) = last {
        measurements.push(subject.measure(
            "association_last_execution_timestamp_seconds",
            last.timestamp() as f64,
        ));
    }
    if let Some(every) = interval {
        let staleness = Staleness {
            every,
            grace: config.stale_grace,
            last,
            now,
        };
        findings.extend(stale(subject, severities.execution_stale, &staleness));
    }
}

/// DOCUMENT_MISMATCH: a document outside the accepted set.
fn document_mismatch(s: &Subject<'_>, severity: Severity) -> Option<Finding> {
    let expected = s.expected;
    let accepted = expected.documents.first()?;
    if expected
        .documents
        .iter()
        .any(|d| document_name(d) == s.document)
    {
        return None;
    }
    let finding = s
        .finding(
            DOCUMENT_MISMATCH,
            severity,
            format!("SSM association {} runs {}", s.resource, s.document),
        )
        .description(format!(
            "The association {} runs the document {}, not one of {}. Inspector depends on what \
             that document does on {}; with another document they may not be inventoried or \
             scanned.",
            s.role,
            s.document,
            expected.documents.join(", "),
            expected.platform.instances()
        ))
        .recommendation("Point the association back at the document Inspector expects.")
        .remediation(format!(
            "aws ssm update-association --association-id {} --name {accepted} --region {}",
            shell_word(&s.assoc.association_id),
            s.region()
        ))
        .detail("accepted_documents", &expected.documents);
    Some(s.with_details(finding))
}

/// TARGETS_NARROWED: an association that should target all instances does not.
fn targets_narrowed(s: &Subject<'_>, severity: Severity) -> Option<Finding> {
    if !s.expected.all_instances || targets_all_instances(s.assoc) {
        return None;
    }
    let finding = s
        .finding(
            TARGETS_NARROWED,
            severity,
            format!(
                "SSM association {} does not target all instances",
                s.resource
            ),
        )
        .description(format!(
            "The association {} targets {} instead of all instances (InstanceIds=*). {} outside \
             those targets are not inventoried or scanned by Inspector.",
            s.role,
            targets_text(s.assoc),
            capitalise(s.expected.platform.instances())
        ))
        .recommendation("Target all instances again.")
        .remediation(format!(
            "aws ssm update-association --association-id {} --targets Key=InstanceIds,Values=* \
             --region {}",
            shell_word(&s.assoc.association_id),
            s.region()
        ));
    Some(s.with_details(finding))
}

/// SCHEDULE_UNPARSEABLE: a schedule expression blindspot cannot read.
fn schedule_unparseable(s: &Subject<'_>, severity: Severity, err: &ScheduleError) -> Finding {
    let mut finding = s
        .finding(
            SCHEDULE_UNPARSEABLE,
            severity,
            format!(
                "SSM association {} has a schedule blindspot cannot read",
                s.resource
            ),
        )
        .description(format!(
            "The schedule of the association {} could not be understood ({err}), so blindspot \
             cannot tell how often Inspector's data is refreshed by it, nor whether it is \
             overdue.",
            s.role
        ))
        .recommendation("Check the schedule expression; set a plain rate() expression.")
        .detail("error", err.to_string());
    if let Some(max) = s.expected.max_interval {
        finding = finding.remediation(format!(
            "aws ssm update-association --association-id {} --schedule-expression \"{}\" \
             --region {}",
            shell_word(&s.assoc.association_id),
            rate_expression(max),
            s.region()
        ));
    }
    s.with_details(finding)
}

/// SCHEDULE_TOO_SLOW: the schedule fires less often than the expectation
/// allows, or never again.
fn too_slow(s: &Subject<'_>, severity: Severity, interval: Option<Duration>) -> Option<Finding> {
    let max = s.expected.max_interval?;
    if interval.is_some_and(|every| every <= max) {
        return None;
    }
    let actual = interval
        .map(duration)
        .unwrap_or_else(|| "never again".into());
    let delay = if s.document == INVENTORY_DOCUMENT {
        "new or changed software on an instance reaches Inspector"
    } else {
        "Inspector's plugin is installed or run, and so instances are scanned,"
    };
    let finding = s
        .finding(
            SCHEDULE_TOO_SLOW,
            severity,
            format!(
                "SSM association {} runs every {actual}, expected every {}",
                s.resource,
                duration(max)
            ),
        )
        .description(format!(
            "The association {} fires at most every {actual} ({}), but should fire at least \
             every {}: {delay} up to {actual} late.",
            s.role,
            s.assoc
                .schedule_expression
                .as_deref()
                .unwrap_or("no schedule"),
            duration(max)
        ))
        .recommendation(format!(
            "Set the schedule back to {}.",
            rate_expression(max)
        ))
        .remediation(format!(
            "aws ssm update-association --association-id {} --schedule-expression \"{}\" \
             --region {}",
            shell_word(&s.assoc.association_id),
            rate_expression(max),
            s.region()
        ))
        .detail("actual_interval_seconds", interval.map(|d| d.as_secs()))
        .detail("expected_interval_seconds", max.as_secs());
    Some(s.with_details(finding))
}

/// EXECUTION_FAILED from the overview, with the latest execution named.
fn execution_failed(s: &Subject<'_>, severity: Severity) -> Option<Finding> {
    let assoc = s.assoc;
    if !shows_failure(assoc) {
        return None;
    }
    let overview = assoc.overview.clone().unwrap_or_default();
    let failed_targets = failed_targets(assoc);
    let latest = s.latest_execution;
    let region = s.region();
    let remediation = match latest {
        Some(exec) => format!(
            "aws ssm describe-association-execution-targets --association-id {} --execution-id \
             {} --filters Key=Status,Value=Failed --region {region}",
            shell_word(&assoc.association_id),
            shell_word(&exec.execution_id)
        ),
        None => format!(
            "aws ssm describe-association-executions --association-id {} --region {region}",
            shell_word(&assoc.association_id)
        ),
    };
    let refreshed = if s.document == INVENTORY_DOCUMENT {
        "software inventory"
    } else {
        "plugin installation or scan"
    };
    let finding = s
        .finding(
            EXECUTION_FAILED,
            severity,
            format!("SSM association {} is failing", s.resource),
        )
        .description(format!(
            "The association {} reports status {} with {failed_targets} failed target(s). On \
             those {} the document {} does not complete, so Inspector gets no fresh {refreshed} \
             from them.",
            s.role,
            overview.status.as_deref().unwrap_or("unknown"),
            s.expected.platform.instances(),
            s.document,
        ))
        .recommendation(
            "Look at the failed targets' output (SSM Agent running, instance profile \
             permissions, network access to SSM), fix the cause, then run the association \
             again.",
        )
        .remediation(remediation)
        .detail("association_id", &assoc.association_id)
        .detail("association_name", &assoc.association_name)
        .detail("document", s.document)
        .detail("schedule", &assoc.schedule_expression)
        .detail("targets", targets_text(assoc))
        .detail("last_execution", assoc.last_execution_date)
        .detail(
            "last_successful_execution",
            assoc.last_successful_execution_date,
        )
        .detail("status", &overview.status)
        .detail("detailed_status", &overview.detailed_status)
        .detail("failed_targets", failed_targets)
        .detail("status_counts", &overview.aggregated_count)
        .detail(
            "latest_execution",
            latest.map(|e| {
                serde_json::json!({
                    "execution_id": e.execution_id,
                    "status": e.status,
                    "created_time": e.created_time,
                    "resource_count_by_status": e.resource_count_by_status,
                })
            }),
        )
        .detail("stands_in_for", s.stands_in_for());
    Some(finding)
}

/// What staleness is measured from and against.
struct Staleness {
    /// The association's effective interval.
    every: Duration,
    /// `stale_grace`.
    grace: Duration,
    /// Its last execution, if it ever ran.
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

/// EXECUTION_STALE: no execution within twice the association's own interval
/// plus the grace; an association that never ran counts from its creation.
fn stale(s: &Subject<'_>, severity: Severity, staleness: &Staleness) -> Option<Finding> {
    let Staleness {
        every,
        grace,
        last,
        now,
    } = *staleness;
    let assoc = s.assoc;
    let bound = every
        .checked_mul(2)
        .and_then(|d| d.checked_add(grace))
        .and_then(|d| chrono::Duration::from_std(d).ok())?;
    // Neither date: nothing to measure staleness from.
    let (since, never_ran) = match (last, assoc.created_date) {
        (Some(last), _) => (last, false),
        (None, Some(created)) => (created, true),
        (None, None) => return None,
    };
    let age = now - since;
    if age <= bound {
        return None;
    }
    let ago = duration(age.to_std().unwrap_or_default());
    let what = if never_ran {
        format!("has never run since it was created {ago} ago")
    } else {
        format!("last ran {ago} ago")
    };
    let finding = s
        .finding(
            EXECUTION_STALE,
            severity,
            format!("SSM association {} {what}", s.resource),
        )
        .description(format!(
            "The association {} should run every {} but {what}, longer than twice its interval \
             plus {} of grace. Inspector's data from it is that old; a duplicate inventory \
             association, a paused or throttled State Manager or unreachable instances are the \
             usual causes.",
            s.role,
            duration(every),
            duration(grace)
        ))
        .recommendation(
            "Find out why it does not run (duplicate associations, failed executions), then run \
             it once to refresh Inspector's data.",
        )
        .remediation(format!(
            "aws ssm start-associations-once --association-ids {} --region {}",
            shell_word(&assoc.association_id),
            s.region()
        ))
        .detail("last_execution", last)
        .detail(
            "last_successful_execution",
            assoc.last_successful_execution_date,
        )
        .detail("created", assoc.created_date)
        .detail("age_seconds", age.num_seconds())
        .detail("interval_seconds", every.as_secs())
        .detail("stale_after_seconds", bound.num_seconds());
    Some(s.with_details(finding))
}

/// Targets whose last run failed, from the overview's aggregated counts.
fn failed_targets(assoc: &Association) -> i64 {
    assoc.overview.as_ref().map_or(0, |overview| {
        overview
            .aggregated_count
            .iter()
            .filter(|(status, _)| status.eq_ignore_ascii_case("Failed"))
            .map(|(_, n)| *n)
            .sum()
    })
}

fn is_inventory(assoc: &Association) -> bool {
    document_name(&assoc.document_name) == INVENTORY_DOCUMENT
}

/// The document name of `Name`, which may be an ARN (`...:document/<name>`).
pub(super) fn document_name(name: &str) -> &str {
    if name.starts_with("arn:") {
        name.rsplit('/').next().unwrap_or(name)
    } else {
        name
    }
}

/// How the association is referred to: its name, or its ID when unnamed.
fn label(assoc: &Association) -> &str {
    match assoc.association_name.as_deref() {
        Some(name) if !name.is_empty() => name,
        _ => &assoc.association_id,
    }
}

fn targets_all_instances(assoc: &Association) -> bool {
    assoc.instance_id.is_none()
        && assoc
            .targets
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case("InstanceIds") && t.values.iter().any(|v| v == "*"))
}

fn targets_text(assoc: &Association) -> String {
    if let Some(instance) = &assoc.instance_id {
        return format!("InstanceId={instance}");
    }
    let parts: Vec<String> = assoc
        .targets
        .iter()
        .map(|t| format!("{}={}", t.key, t.values.join(",")))
        .collect();
    if parts.is_empty() {
        "(none)".into()
    } else {
        parts.join("; ")
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
