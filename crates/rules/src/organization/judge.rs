//! The verdict on one region's [`Snapshot`]: synchronous and pure, a
//! function of the snapshot, the config, the scope and the rule's own open
//! findings.
//!
//! The judge also decides whether the snapshot can be judged at all: without
//! Inspector's members, "missing from Inspector" cannot be told from "not
//! visible from here", so that is an error, never a pass ([`judge`]).
//!
//! Findings come in a fixed order: the delegated administrator, the
//! organisation configuration (auto-enable in [`SCAN_TYPES`] order, then the
//! member limit), then the accounts in ListAccounts order.

use super::config::{OrganizationConfig, Severities};
use super::fetch::{Seen, Snapshot};
use super::{
    ACCOUNT_NOT_MEMBER, AUTO_ENABLE_OFF, AUTO_ENABLE_UNKNOWN, CONFIGURATION_UNREADABLE,
    DELEGATED_ADMIN_MISMATCH, ID, MAX_ACCOUNT_LIMIT_REACHED, MEMBER_NOT_ENABLED,
    NO_DELEGATED_ADMIN,
};
use crate::text::shell_word;
use blindspot_aws::inspector2::{AutoEnable, Member};
use blindspot_aws::organizations::OrgAccount;
use blindspot_core::{Finding, Measurement, RuleError, RuleReport, Scope, Severity};
use std::collections::{BTreeMap, BTreeSet};

/// The resource of `NO_DELEGATED_ADMIN` and `DELEGATED_ADMIN_MISMATCH`: one
/// per organisation and region, whichever account holds the role, so that a
/// change from one wrong administrator to another updates one finding.
pub const ADMIN_RESOURCE: &str = "delegated-administrator";
/// The resource of `MAX_ACCOUNT_LIMIT_REACHED`.
pub const ORGANIZATION_RESOURCE: &str = "organization";
/// The resource of `CONFIGURATION_UNREADABLE`.
pub const CONFIGURATION_RESOURCE: &str = "organization-configuration";

/// The relationship status of a member Inspector manages.
const ENABLED: &str = "ENABLED";

/// One scan type of Inspector's `AutoEnable`.
#[derive(Clone, Copy)]
pub struct ScanType {
    /// The `ResourceScanType` value: the finding's resource and the metric's
    /// `scan_type` label.
    pub resource: &'static str,
    /// The `AutoEnable` member, as `update-organization-configuration
    /// --auto-enable` spells it.
    pub member: &'static str,
    /// How the findings name it.
    pub name: &'static str,
    /// What goes unscanned without it.
    pub scans: &'static str,
    get: fn(&AutoEnable) -> Option<bool>,
    severity: fn(&Severities) -> Severity,
}

/// The scan types whose auto-enable the rule checks, in finding order.
/// `codeRepository` and `ami` are not read by the port.
pub const SCAN_TYPES: [ScanType; 4] = [
    ScanType {
        resource: "EC2",
        member: "ec2",
        name: "EC2 scanning",
        scans: "EC2 instances",
        get: |a| a.ec2,
        severity: |s| s.auto_enable_off_ec2,
    },
    ScanType {
        resource: "ECR",
        member: "ecr",
        name: "ECR scanning",
        scans: "container images in ECR",
        get: |a| a.ecr,
        severity: |s| s.auto_enable_off_ecr,
    },
    ScanType {
        resource: "LAMBDA",
        member: "lambda",
        name: "Lambda standard scanning",
        scans: "the packages of Lambda functions",
        get: |a| a.lambda,
        severity: |s| s.auto_enable_off_lambda,
    },
    ScanType {
        resource: "LAMBDA_CODE",
        member: "lambdaCode",
        name: "Lambda code scanning",
        scans: "the code of Lambda functions",
        get: |a| a.lambda_code,
        severity: |s| s.auto_enable_off_lambda_code,
    },
];

/// Where the judge learnt who the delegated administrator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminSource {
    /// GetDelegatedAdminAccount answered (from the management account).
    Api,
    /// GetDelegatedAdminAccount was denied or named none; the members'
    /// `delegatedAdminAccountId` named it.
    Members,
    /// GetDelegatedAdminAccount was denied and no member names one: the
    /// account blindspot runs in, since ListMembers answered there and only
    /// the delegated administrator may call it.
    Caller,
}

impl AdminSource {
    /// How `details.delegated_admin_source` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminSource::Api => "GetDelegatedAdminAccount",
            AdminSource::Members => "ListMembers",
            AdminSource::Caller => "caller",
        }
    }

    /// How a description says where the administrator was learnt, after its ID.
    fn explained(self) -> &'static str {
        match self {
            AdminSource::Api => "",
            AdminSource::Members => {
                ", as the members' delegatedAdminAccountId says (GetDelegatedAdminAccount \
                 answers only in the management account)"
            }
            AdminSource::Caller => {
                ", the account blindspot runs in: it lists Inspector's members, which only the \
                 delegated administrator can (GetDelegatedAdminAccount answers only in the \
                 management account)"
            }
        }
    }
}

/// Inspector's delegated administrator, as far as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Its account ID; `None` when the organisation has none.
    pub account: Option<String>,
    /// Where it was learnt.
    pub source: AdminSource,
    /// Its `relationshipStatus`, when GetDelegatedAdminAccount answered.
    pub relationship_status: Option<String>,
}

/// Inspector's members, as far as they can be judged.
struct Members<'a> {
    /// By account ID.
    by_id: BTreeMap<&'a str, &'a Member>,
    /// Whether ListMembers answered; `false` when the members are known to be
    /// none because the organisation has no delegated administrator.
    listed: bool,
}

/// The administrator GetDelegatedAdminAccount names, when it names one.
fn named_by_api(snapshot: &Snapshot) -> Option<(&str, Option<&str>)> {
    match &snapshot.delegated_admin {
        Seen::Read(Some(admin)) => admin
            .account_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .map(|id| (id, admin.relationship_status.as_deref())),
        _ => None,
    }
}

/// The administrator most members name (ties: the lowest ID, so the verdict
/// does not depend on listing order).
fn named_by_members(members: &[Member]) -> Option<&str> {
    let mut named: BTreeMap<&str, usize> = BTreeMap::new();
    for id in members
        .iter()
        .filter_map(|m| m.delegated_admin_account_id.as_deref())
        .filter(|id| !id.is_empty())
    {
        *named.entry(id).or_default() += 1;
    }
    named
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(id, _)| id)
}

/// Who the delegated administrator is, or that there is none: what
/// GetDelegatedAdminAccount says, else what the members say, else (only when
/// ListMembers answered) the account blindspot runs in.
pub fn delegated_admin(snapshot: &Snapshot, scope: &Scope) -> Admin {
    if let Some((id, status)) = named_by_api(snapshot) {
        return Admin {
            account: Some(id.to_owned()),
            source: AdminSource::Api,
            relationship_status: status.map(str::to_owned),
        };
    }
    let listed = snapshot.members.read().map(Vec::as_slice).unwrap_or(&[]);
    if let Some(id) = named_by_members(listed) {
        return Admin {
            account: Some(id.to_owned()),
            source: AdminSource::Members,
            relationship_status: None,
        };
    }
    match (&snapshot.delegated_admin, &snapshot.members) {
        (Seen::Denied(_), Seen::Read(_)) => Admin {
            account: Some(scope.account.clone()),
            source: AdminSource::Caller,
            relationship_status: None,
        },
        // Answered with none (or denied with no members to go by, which
        // `members` turns into an error before anyone reads this).
        _ => Admin {
            account: None,
            source: AdminSource::Api,
            relationship_status: None,
        },
    }
}

/// The members to judge the accounts against, or why they cannot be had.
fn members<'a>(
    snapshot: &'a Snapshot,
    admin: &Admin,
    scope: &Scope,
) -> Result<Members<'a>, RuleError> {
    match &snapshot.members {
        Seen::Read(list) => {
            // An empty answer from an account that is not the administrator
            // is no evidence that the organisation has no members.
            if list.is_empty() && admin.source == AdminSource::Api {
                if let Some(admin_id) = admin.account.as_deref().filter(|a| *a != scope.account) {
                    return Err(RuleError::Failed(format!(
                        "ListMembers answered no members in account {}, but Inspector's \
                         delegated administrator in {} is {admin_id}: only the delegated \
                         administrator lists the organisation's members, so accounts missing \
                         from Inspector cannot be judged from here",
                        scope.account, scope.region
                    )));
                }
            }
            Ok(Members {
                by_id: list.iter().map(|m| (m.account_id.as_str(), m)).collect(),
                listed: true,
            })
        }
        // With no delegated administrator there is no Inspector organisation,
        // so no account is a member of one; that is known without ListMembers.
        Seen::Denied(_)
            if matches!(snapshot.delegated_admin, Seen::Read(_)) && admin.account.is_none() =>
        {
            Ok(Members {
                by_id: BTreeMap::new(),
                listed: false,
            })
        }
        Seen::Denied(err) => {
            let where_admin = match (&admin.account, &snapshot.delegated_admin) {
                (Some(id), _) => format!(" ({id})"),
                (None, Seen::Denied(_)) => {
                    "; GetDelegatedAdminAccount was denied too, so blindspot runs in neither \
                     the delegated administrator nor the management account"
                        .to_owned()
                }
                (None, Seen::Read(_)) => String::new(),
            };
            Err(RuleError::Failed(format!(
                "Inspector's members cannot be listed from account {} in {}, so accounts \
                 missing from Inspector cannot be judged: {err}. ListMembers answers only in \
                 the delegated administrator{where_admin}",
                scope.account, scope.region
            )))
        }
    }
}

/// The verdict on one region, or why it cannot be given.
///
/// `own` are the rule's own open findings in this scope: a setting that could
/// not be read this time (denied, or absent from the answer) keeps its open
/// finding as it was, marked `details.unverified`, because an `ok`
/// evaluation resolves every finding it does not report.
pub fn judge(
    snapshot: &Snapshot,
    config: &OrganizationConfig,
    scope: &Scope,
    own: &[Finding],
) -> Result<RuleReport, RuleError> {
    let admin = delegated_admin(snapshot, scope);
    let members = members(snapshot, &admin, scope)?;
    let mut report = RuleReport::default();
    count_fetch(&mut report, snapshot, &admin);

    if let Some(finding) = judge_admin(snapshot, &admin, config, scope) {
        report.findings.push(finding);
    }
    judge_configuration(snapshot, config, scope, own, &mut report);
    judge_accounts(snapshot, &members, &admin, config, scope, &mut report);
    Ok(report)
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The calls, what was denied, and the organisation's accounts.
fn count_fetch(report: &mut RuleReport, snapshot: &Snapshot, admin: &Admin) {
    let counts = &mut report.counts;
    for (operation, n) in snapshot.calls.by_operation() {
        if n > 0 {
            counts.insert(format!("calls.{operation}"), n);
        }
    }
    for (operation, denied) in [
        ("ListMembers", matches!(snapshot.members, Seen::Denied(_))),
        (
            "DescribeOrganizationConfiguration",
            matches!(snapshot.organization_configuration, Seen::Denied(_)),
        ),
        (
            "GetDelegatedAdminAccount",
            matches!(snapshot.delegated_admin, Seen::Denied(_)),
        ),
    ] {
        if denied {
            counts.insert(format!("denied.{operation}"), 1);
        }
    }
    if admin.source != AdminSource::Api {
        counts.insert("delegated_admin_inferred".into(), 1);
    }
    counts.insert("accounts_active".into(), count(snapshot.accounts.len()));
    counts.insert(
        "accounts_inactive".into(),
        snapshot.inactive_accounts.values().sum(),
    );
    let mut by_state: BTreeMap<String, f64> = BTreeMap::new();
    by_state.insert("ACTIVE".into(), snapshot.accounts.len() as f64);
    for (state, n) in &snapshot.inactive_accounts {
        *by_state.entry(label(state)).or_default() += *n as f64;
    }
    for (state, n) in by_state {
        report.measurements.push(Measurement::new(
            "organization_accounts",
            &[("state", &state)],
            n,
        ));
    }
}

/// An AWS enum value as a metric label: itself when it looks like one
/// (UPPER_SNAKE_CASE, at most 64 bytes), `UNKNOWN` when absent, else `OTHER`,
/// so that a malformed answer cannot grow the series.
fn label(value: &str) -> String {
    if value.is_empty() {
        "UNKNOWN".to_owned()
    } else if value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        value.to_owned()
    } else {
        "OTHER".to_owned()
    }
}

/// An account as findings name it: `name (id)`, or the ID alone.
fn account_label(id: &str, name: Option<&str>) -> String {
    match name.filter(|n| !n.trim().is_empty()) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

fn name_of<'a>(snapshot: &'a Snapshot, id: &str) -> Option<&'a str> {
    snapshot
        .accounts
        .iter()
        .find(|a| a.id == id)
        .and_then(|a| a.name.as_deref())
}

/// `NO_DELEGATED_ADMIN` or `DELEGATED_ADMIN_MISMATCH`.
fn judge_admin(
    snapshot: &Snapshot,
    admin: &Admin,
    config: &OrganizationConfig,
    scope: &Scope,
) -> Option<Finding> {
    let region = &scope.region;
    let Some(found) = &admin.account else {
        let (target, how) = match &config.delegated_admin {
            Some(id) => (id.clone(), String::new()),
            None => (
                "<account-id>".to_owned(),
                " Replace <account-id> with the account to designate, or set delegated_admin in \
                 [rules.inspector2-organization] to have the command name it."
                    .to_owned(),
            ),
        };
        return Some(
            Finding::new(
                ID,
                NO_DELEGATED_ADMIN,
                config.severities.no_delegated_admin,
                scope,
                ADMIN_RESOURCE,
                format!("The organisation has no Inspector delegated administrator in {region}"),
            )
            .description(format!(
                "GetDelegatedAdminAccount names no delegated administrator for Inspector in \
                 {region}, and no member names one. Without one nobody manages Inspector for \
                 the organisation: accounts that join are not enabled automatically, none is \
                 associated as a member, and findings and coverage can only be seen account by \
                 account."
            ))
            .recommendation(format!(
                "From the organisation's management account, designate Inspector's delegated \
                 administrator (the same account in every region), then from it associate the \
                 member accounts and turn auto-enable on.{how}"
            ))
            .remediation(format!(
                "aws inspector2 enable-delegated-admin-account --delegated-admin-account-id \
                 {target} --region {region}"
            ))
            .detail("delegated_admin", None::<String>)
            .detail("expected_delegated_admin", &config.delegated_admin),
        );
    };
    let expected = config.delegated_admin.as_ref()?;
    if found == expected {
        return None;
    }
    let found_label = account_label(found, name_of(snapshot, found));
    let expected_label = account_label(expected, name_of(snapshot, expected));
    let found_word = shell_word(found);
    Some(
        Finding::new(
            ID,
            DELEGATED_ADMIN_MISMATCH,
            config.severities.delegated_admin_mismatch,
            scope,
            ADMIN_RESOURCE,
            format!("Inspector's delegated administrator is {found_label}, not {expected_label}"),
        )
        .description(format!(
            "In {region}, Inspector's delegated administrator is {found_label}{}; the \
             configuration expects {expected_label}. The delegated administrator holds the \
             organisation's Inspector settings and sees every member's findings and coverage.",
            admin.source.explained()
        ))
        .recommendation(format!(
            "If {found_label} is the intended administrator, set delegated_admin to {found}. \
             Otherwise, from the management account, remove it and designate {expected}: the \
             members become standalone accounts until the new administrator associates them."
        ))
        .remediation(format!(
            "aws inspector2 disable-delegated-admin-account --delegated-admin-account-id \
             {found_word} --region {region} && aws inspector2 enable-delegated-admin-account \
             --delegated-admin-account-id {expected} --region {region}"
        ))
        .detail("delegated_admin", found)
        .detail("delegated_admin_name", name_of(snapshot, found))
        .detail("delegated_admin_source", admin.source.as_str())
        .detail("relationship_status", &admin.relationship_status)
        .detail("expected_delegated_admin", expected),
    )
}

/// The command that turns on auto-enable for every scan type the rule
/// checks. UpdateOrganizationConfiguration takes the `autoEnable` structure
/// with `ec2` and `ecr` required, so one command serves every finding.
fn auto_enable_command(region: &str) -> String {
    let types: Vec<String> = SCAN_TYPES
        .iter()
        .map(|t| format!("{}=true", t.member))
        .collect();
    format!(
        "aws inspector2 update-organization-configuration --auto-enable {} --region {region}",
        types.join(",")
    )
}

const AUTO_ENABLE_RECOMMENDATION: &str =
    "From the delegated administrator, turn auto-enable on for every scan type. \
     UpdateOrganizationConfiguration sets the autoEnable structure it is given (ec2 and ecr are \
     required), so the command names all four. Auto-enable acts on accounts that join from now \
     on; accounts already in keep their own settings.";

/// The rule's own open findings of `code` (on `resource`, when given), kept
/// as they were because this evaluation could not see their subject.
fn carried<'a>(
    own: &'a [Finding],
    scope: &'a Scope,
    code: &'a str,
    resource: Option<&'a str>,
    why: &'a str,
) -> impl Iterator<Item = Finding> + 'a {
    own.iter()
        .filter(move |f| {
            f.rule == ID
                && f.code == code
                && f.account == scope.account
                && f.region == scope.region
                && resource.is_none_or(|r| f.resource == r)
        })
        .map(move |f| f.clone().detail("unverified", why))
}

/// Auto-enable per scan type and the member limit, or why they are unknown.
fn judge_configuration(
    snapshot: &Snapshot,
    config: &OrganizationConfig,
    scope: &Scope,
    own: &[Finding],
    report: &mut RuleReport,
) {
    let region = &scope.region;
    let configuration = match &snapshot.organization_configuration {
        Seen::Read(configuration) => configuration,
        Seen::Denied(err) => {
            // A finding rather than a failed evaluation: the members and the
            // administrator were read fine, and an error would keep their
            // findings from opening or resolving for as long as this one
            // permission is missing. What depended on the answer is carried.
            report.findings.push(
                Finding::new(
                    ID,
                    CONFIGURATION_UNREADABLE,
                    config.severities.configuration_unreadable,
                    scope,
                    CONFIGURATION_RESOURCE,
                    "Inspector's organisation configuration cannot be read from this account",
                )
                .description(format!(
                    "DescribeOrganizationConfiguration was denied to account {} in {region} \
                     ({err}). It answers only in the delegated administrator, so whether \
                     accounts that join get EC2, ECR and Lambda scanning automatically, and \
                     whether the organisation reached Inspector's member limit, is not \
                     checked. Open findings about them are kept as they were.",
                    scope.account
                ))
                .recommendation(
                    "Run blindspot in Inspector's delegated administrator (or with its role), \
                     with inspector2:DescribeOrganizationConfiguration allowed.",
                )
                .detail("error", err.to_string()),
            );
            let why = "DescribeOrganizationConfiguration was denied; kept as last seen";
            for code in [AUTO_ENABLE_OFF, MAX_ACCOUNT_LIMIT_REACHED] {
                report.findings.extend(carried(own, scope, code, None, why));
            }
            return;
        }
    };

    for scan_type in &SCAN_TYPES {
        let value = configuration.auto_enable.as_ref().and_then(scan_type.get);
        if let Some(on) = value {
            report.measurements.push(Measurement::new(
                "organization_auto_enable",
                &[("scan_type", scan_type.resource)],
                if on { 1.0 } else { 0.0 },
            ));
        }
        match value {
            Some(true) => {}
            Some(false) => report
                .findings
                .push(auto_enable_off(scan_type, config, scope)),
            None => {
                let missing = if configuration.auto_enable.is_none() {
                    "autoEnable".to_owned()
                } else {
                    format!("autoEnable.{}", scan_type.member)
                };
                let why = format!(
                    "DescribeOrganizationConfiguration answered without {missing}; kept as last \
                     seen"
                );
                let before = report.findings.len();
                report.findings.extend(carried(
                    own,
                    scope,
                    AUTO_ENABLE_OFF,
                    Some(scan_type.resource),
                    &why,
                ));
                // An open AUTO_ENABLE_OFF already says more than "unknown".
                if report.findings.len() == before {
                    report
                        .findings
                        .push(auto_enable_unknown(scan_type, &missing, config, scope));
                }
            }
        }
    }

    match configuration.max_account_limit_reached {
        Some(true) => {
            let members = snapshot.members.read().map(Vec::len);
            report.findings.push(
                Finding::new(
                    ID,
                    MAX_ACCOUNT_LIMIT_REACHED,
                    config.severities.max_account_limit_reached,
                    scope,
                    ORGANIZATION_RESOURCE,
                    format!("Inspector's organisation has reached its member limit in {region}"),
                )
                .description(format!(
                    "DescribeOrganizationConfiguration reports maxAccountLimitReached in \
                     {region}: the delegated administrator cannot associate any more members, \
                     so an account that joins the organisation now stays outside Inspector's \
                     organisation, auto-enable or not.{}",
                    members
                        .map(|n| format!(" Inspector lists {n} members."))
                        .unwrap_or_default()
                ))
                .recommendation(
                    "Disassociate members that need no scanning (sandbox, suspended or closing \
                     accounts) with aws inspector2 disassociate-member, so that new accounts \
                     can join; the limit is per delegated administrator.",
                )
                .detail("members_listed", members),
            );
        }
        Some(false) => {}
        None => {
            let why = "DescribeOrganizationConfiguration answered without \
                       maxAccountLimitReached; kept as last seen";
            report
                .findings
                .extend(carried(own, scope, MAX_ACCOUNT_LIMIT_REACHED, None, why));
        }
    }
}

fn auto_enable_off(scan_type: &ScanType, config: &OrganizationConfig, scope: &Scope) -> Finding {
    let region = &scope.region;
    Finding::new(
        ID,
        AUTO_ENABLE_OFF,
        (scan_type.severity)(&config.severities),
        scope,
        scan_type.resource,
        format!(
            "Inspector does not turn on {} for new accounts in {region}",
            scan_type.name
        ),
    )
    .description(format!(
        "The organisation configuration in {region} has autoEnable.{} off: an account that \
         joins the organisation is not scanned for {} until someone activates {} in it by hand. \
         That is how an account goes unscanned without anyone deciding it should.",
        scan_type.member, scan_type.scans, scan_type.name
    ))
    .recommendation(AUTO_ENABLE_RECOMMENDATION)
    .remediation(auto_enable_command(region))
    .detail("scan_type", scan_type.resource)
    .detail("auto_enable", scan_type.member)
    .detail("enabled", false)
}

fn auto_enable_unknown(
    scan_type: &ScanType,
    missing: &str,
    config: &OrganizationConfig,
    scope: &Scope,
) -> Finding {
    let region = &scope.region;
    Finding::new(
        ID,
        AUTO_ENABLE_UNKNOWN,
        config.severities.auto_enable_unknown,
        scope,
        scan_type.resource,
        format!(
            "Whether new accounts get {} in {region} is unknown",
            scan_type.name
        ),
    )
    .description(format!(
        "DescribeOrganizationConfiguration answered in {region} without {missing}, so blindspot \
         cannot tell whether accounts that join get {} automatically. It is not reported as \
         off.",
        scan_type.name
    ))
    .recommendation(format!(
        "Set auto-enable explicitly. {AUTO_ENABLE_RECOMMENDATION}"
    ))
    .remediation(auto_enable_command(region))
    .detail("scan_type", scan_type.resource)
    .detail("auto_enable", scan_type.member)
    .detail("enabled", None::<bool>)
}

/// Each ACTIVE account against Inspector's members.
///
/// The delegated administrator is never judged as a member: it manages the
/// organisation and is not documented to appear in its own ListMembers, so
/// its absence says nothing (its own scan types are the coverage rule's, in
/// its own scope). Accounts in `ignore_accounts` are counted, not reported.
fn judge_accounts(
    snapshot: &Snapshot,
    members: &Members<'_>,
    admin: &Admin,
    config: &OrganizationConfig,
    scope: &Scope,
    report: &mut RuleReport,
) {
    let ignored: BTreeSet<&str> = config.ignore_accounts.iter().map(String::as_str).collect();
    let mut counts = AccountCounts::default();
    for account in &snapshot.accounts {
        if admin.account.as_deref() == Some(account.id.as_str()) {
            continue;
        }
        if ignored.contains(account.id.as_str()) {
            counts.ignored += 1;
            continue;
        }
        match members.by_id.get(account.id.as_str()) {
            None => {
                counts.not_members += 1;
                report
                    .findings
                    .push(not_member(account, admin, members.listed, config, scope));
            }
            Some(member) => match member.relationship_status.as_deref() {
                Some(status) if status.eq_ignore_ascii_case(ENABLED) => counts.enabled += 1,
                Some(status) => {
                    counts.not_enabled += 1;
                    report
                        .findings
                        .push(not_enabled(account, member, status, admin, config, scope));
                }
                // A member without a status is listed but cannot be judged.
                None => counts.without_status += 1,
            },
        }
    }

    let active: BTreeSet<&str> = snapshot.accounts.iter().map(|a| a.id.as_str()).collect();
    let outside = members
        .by_id
        .keys()
        .filter(|id| !active.contains(*id))
        .count();
    let c = &mut report.counts;
    c.insert("accounts_ignored".into(), counts.ignored);
    c.insert("accounts_not_members".into(), counts.not_members);
    c.insert("members_not_enabled".into(), counts.not_enabled);
    c.insert("members_enabled".into(), counts.enabled);
    if counts.without_status > 0 {
        c.insert("members_without_status".into(), counts.without_status);
    }
    if members.listed {
        c.insert("members_listed".into(), count(members.by_id.len()));
        // Members of closed or suspended accounts, or of accounts the
        // organisation no longer lists: not judged.
        c.insert("members_not_active_in_organization".into(), count(outside));
        let mut by_status: BTreeMap<String, f64> = BTreeMap::new();
        for member in members.by_id.values() {
            let status = label(member.relationship_status.as_deref().unwrap_or_default());
            *by_status.entry(status).or_default() += 1.0;
        }
        for (status, n) in by_status {
            report.measurements.push(Measurement::new(
                "organization_members",
                &[("status", &status)],
                n,
            ));
        }
    }
    report.measurements.push(Measurement::new(
        "organization_accounts_not_members",
        &[],
        counts.not_members as f64,
    ));
}

#[derive(Default)]
struct AccountCounts {
    ignored: u64,
    not_members: u64,
    not_enabled: u64,
    enabled: u64,
    without_status: u64,
}

/// `associate-member` then `enable` for one account, as the delegated
/// administrator runs them.
fn associate_and_enable(account_id: &str, region: &str) -> String {
    let id = shell_word(account_id);
    format!(
        "aws inspector2 associate-member --account-id {id} --region {region} && aws inspector2 \
         enable --account-ids {id} --resource-types EC2 ECR LAMBDA LAMBDA_CODE --region {region}"
    )
}

fn not_member(
    account: &OrgAccount,
    admin: &Admin,
    listed: bool,
    config: &OrganizationConfig,
    scope: &Scope,
) -> Finding {
    let region = &scope.region;
    let who = account_label(&account.id, account.name.as_deref());
    let (situation, first) = match &admin.account {
        Some(admin_id) => (
            format!(
                "Inspector's delegated administrator {admin_id} does not list it among its \
                 members in {region}"
            ),
            "From the delegated administrator, associate the account with Inspector and \
             activate its scan types.",
        ),
        None => (
            format!(
                "the organisation has no Inspector delegated administrator in {region}, so it \
                 belongs to no Inspector organisation"
            ),
            "Designate a delegated administrator first (see NO_DELEGATED_ADMIN); then, from \
             it, associate the account with Inspector and activate its scan types.",
        ),
    };
    Finding::new(
        ID,
        ACCOUNT_NOT_MEMBER,
        config.severities.account_not_member,
        scope,
        &account.id,
        format!("Account {who} is not a member of Inspector's organisation in {region}"),
    )
    .description(format!(
        "Organizations lists account {who} as ACTIVE, but {situation}. Inspector in that account \
         is not managed centrally: the organisation's auto-enable settings do not reach it, no \
         delegated administrator sees its findings or coverage, and if Inspector was never \
         activated there, nothing in it is scanned."
    ))
    .recommendation(format!(
        "{first} An account that is not to be scanned can be listed in ignore_accounts."
    ))
    .remediation(associate_and_enable(&account.id, region))
    .detail("account_id", &account.id)
    .detail("account_name", &account.name)
    .detail("joined_at", account.joined_at.map(|t| t.to_rfc3339()))
    .detail("delegated_admin", &admin.account)
    .detail("members_listed", listed)
}

fn not_enabled(
    account: &OrgAccount,
    member: &Member,
    status: &str,
    admin: &Admin,
    config: &OrganizationConfig,
    scope: &Scope,
) -> Finding {
    let region = &scope.region;
    let who = account_label(&account.id, account.name.as_deref());
    let region_disabled = status.eq_ignore_ascii_case("REGION_DISABLED");
    let (meaning, recommendation, remediation) = if region_disabled {
        (
            format!(
                "{region} is not enabled in that account, so Inspector cannot run there at all"
            ),
            format!(
                "From the management account, enable {region} in the account (an opt-in \
                 region), then associate it with Inspector from the delegated administrator."
            ),
            format!(
                "aws account enable-region --account-id {} --region-name {region}",
                shell_word(&account.id)
            ),
        )
    } else {
        (
            "the delegated administrator does not manage Inspector in it, so the \
             organisation's settings do not reach it and its findings and coverage are not in \
             the administrator's view"
                .to_owned(),
            "From the delegated administrator, associate the account again and activate its \
             scan types."
                .to_owned(),
            associate_and_enable(&account.id, region),
        )
    };
    Finding::new(
        ID,
        MEMBER_NOT_ENABLED,
        config.severities.member_not_enabled,
        scope,
        &account.id,
        format!("Account {who} is an Inspector member with status {status}, not ENABLED"),
    )
    .description(format!(
        "Inspector's members list account {who} in {region} with relationship status \
         {status}, not ENABLED: {meaning}."
    ))
    .recommendation(recommendation)
    .remediation(remediation)
    .detail("account_id", &account.id)
    .detail("account_name", &account.name)
    .detail("relationship_status", status)
    .detail(
        "member_updated_at",
        member.updated_at.map(|t| t.to_rfc3339()),
    )
    .detail("delegated_admin", &admin.account)
}
