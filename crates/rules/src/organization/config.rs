//! `[rules.inspector2-organization]`: the expected delegated administrator,
//! the accounts not to flag, the severities, and the checks serde cannot make.

use blindspot_core::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Severities per problem, `[rules.inspector2-organization.severities]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Severities {
    /// [`AUTO_ENABLE_OFF`](super::AUTO_ENABLE_OFF) for EC2 scanning.
    pub auto_enable_off_ec2: Severity,
    /// [`AUTO_ENABLE_OFF`](super::AUTO_ENABLE_OFF) for ECR scanning.
    pub auto_enable_off_ecr: Severity,
    /// [`AUTO_ENABLE_OFF`](super::AUTO_ENABLE_OFF) for Lambda standard scanning.
    pub auto_enable_off_lambda: Severity,
    /// [`AUTO_ENABLE_OFF`](super::AUTO_ENABLE_OFF) for Lambda code scanning.
    pub auto_enable_off_lambda_code: Severity,
    /// [`AUTO_ENABLE_UNKNOWN`](super::AUTO_ENABLE_UNKNOWN): the answer did not
    /// say whether a scan type is auto-enabled.
    pub auto_enable_unknown: Severity,
    /// [`CONFIGURATION_UNREADABLE`](super::CONFIGURATION_UNREADABLE):
    /// DescribeOrganizationConfiguration was denied to this account.
    pub configuration_unreadable: Severity,
    /// [`MAX_ACCOUNT_LIMIT_REACHED`](super::MAX_ACCOUNT_LIMIT_REACHED).
    pub max_account_limit_reached: Severity,
    /// [`ACCOUNT_NOT_MEMBER`](super::ACCOUNT_NOT_MEMBER).
    pub account_not_member: Severity,
    /// [`MEMBER_NOT_ENABLED`](super::MEMBER_NOT_ENABLED).
    pub member_not_enabled: Severity,
    /// [`NO_DELEGATED_ADMIN`](super::NO_DELEGATED_ADMIN).
    pub no_delegated_admin: Severity,
    /// [`DELEGATED_ADMIN_MISMATCH`](super::DELEGATED_ADMIN_MISMATCH).
    pub delegated_admin_mismatch: Severity,
}

impl Default for Severities {
    fn default() -> Self {
        Severities {
            // A new account joins unscanned until someone notices; the
            // accounts already in are not affected, hence below `high`.
            auto_enable_off_ec2: Severity::Medium,
            auto_enable_off_ecr: Severity::Medium,
            auto_enable_off_lambda: Severity::Medium,
            // Lambda code scanning is priced apart and often left off on purpose.
            auto_enable_off_lambda_code: Severity::Low,
            auto_enable_unknown: Severity::Info,
            // The setting this rule exists to check cannot be seen: worth a
            // fix of the permissions, but nothing is known to be blind.
            configuration_unreadable: Severity::Medium,
            // No further account can join: every new one is unscanned.
            max_account_limit_reached: Severity::High,
            // An account Inspector does not manage is not scanned centrally.
            account_not_member: Severity::High,
            member_not_enabled: Severity::High,
            no_delegated_admin: Severity::High,
            // Someone else holds the organisation's Inspector settings.
            delegated_admin_mismatch: Severity::High,
        }
    }
}

/// `[rules.inspector2-organization]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrganizationConfig {
    /// Whether the rule runs. It runs only on the targets that see the
    /// organisation, so being on costs nothing elsewhere.
    pub enabled: bool,
    /// How often the daemon runs it.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long one evaluation may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The account that should be Inspector's delegated administrator; a
    /// different one is `DELEGATED_ADMIN_MISMATCH`. Absent: any is accepted.
    pub delegated_admin: Option<String>,
    /// Accounts never reported as missing from Inspector or not enabled in
    /// it (sandboxes, accounts scanned another way).
    pub ignore_accounts: Vec<String>,
    /// Severities per problem.
    pub severities: Severities,
}

impl Default for OrganizationConfig {
    fn default() -> Self {
        OrganizationConfig {
            enabled: true,
            // Membership and auto-enable change with account vending, hours
            // apart; four calls an hour per region is cheap.
            interval: Duration::from_secs(3_600),
            timeout: Duration::from_secs(300),
            delegated_admin: None,
            ignore_accounts: Vec::new(),
            severities: Severities::default(),
        }
    }
}

/// Whether `id` is an AWS account ID: exactly 12 ASCII digits (the
/// inspector2 model's `AccountId` pattern `\d{12}`).
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

impl OrganizationConfig {
    /// Checks what serde cannot: every account ID has 12 digits, and none is
    /// listed twice in `ignore_accounts`.
    pub fn validate(&self) -> Result<(), crate::ConfigIssue> {
        if let Some(id) = &self.delegated_admin {
            if !is_account_id(id) {
                return Err(crate::ConfigIssue::new(
                    "delegated_admin",
                    format!("`{id}` is not an account ID; expected 12 digits"),
                ));
            }
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, id) in self.ignore_accounts.iter().enumerate() {
            let key = format!("ignore_accounts[{index}]");
            if !is_account_id(id) {
                return Err(crate::ConfigIssue::new(
                    key,
                    format!("`{id}` is not an account ID; expected 12 digits"),
                ));
            }
            if let Some(first) = seen.insert(id.as_str(), index) {
                return Err(crate::ConfigIssue::new(
                    key,
                    format!("`{id}` is already listed at ignore_accounts[{first}]"),
                ));
            }
        }
        Ok(())
    }
}

impl crate::RuleConfig for OrganizationConfig {
    crate::scheduling_fields!();

    fn validate(&self) -> Result<(), crate::ConfigIssue> {
        OrganizationConfig::validate(self)
    }
}
