//! The one table that says what each Inspector v2 `ScanStatusReason` means to
//! blindspot: whether it is a problem, how severe, and what to do about it.
//!
//! It is data on purpose: the evaluation code looks a reason up here and never
//! matches on reason names, so adding a reason AWS introduces is one row, and a
//! reason missing from the table is still reported (see [`lookup`]).
//!
//! The 39 rows are the `ScanStatusReason` enum of the Inspector v2 model
//! (botocore `inspector2/service-2.json`, API version 2020-06-08), in model order.

use blindspot_core::Severity;

/// What a reason means for coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The resource is not scanned and should be: a finding.
    Report,
    /// A deliberate or harmless state (stopped, terminated, excluded by tag):
    /// counted, not reported unless the operator configures a severity for it.
    Benign,
    /// A state that is normal for a while (a scan is about to happen): reported
    /// only once it has lasted longer than the configured grace period.
    Transient,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonSpec {
    /// The `scanStatus.reason` value, exactly as AWS sends it.
    pub code: &'static str,
    /// Whether it is a finding.
    pub disposition: Disposition,
    /// The default severity when it is reported.
    pub severity: Severity,
    /// In `EC2_HYBRID` scan mode, agentless scanning covers this case, so the
    /// finding is lowered.
    pub agentless_covers: bool,
    /// A short title; the resource ID is appended.
    pub title: &'static str,
    /// What to do about it.
    pub recommendation: &'static str,
    /// A concrete command, with `{resource}` and `{region}` placeholders.
    pub remediation: Option<&'static str>,
}

/// The row used for a reason the table does not know (a future AWS value, or a
/// resource without any reason): reported, never dropped.
pub const UNKNOWN: ReasonSpec = ReasonSpec {
    code: "UNKNOWN",
    disposition: Disposition::Report,
    severity: Severity::Medium,
    agentless_covers: false,
    title: "Resource not scanned for a reason blindspot does not know",
    recommendation: "Amazon Inspector reports this resource as not scanned, with a reason this \
        version of blindspot does not know. Look the reason up in the Amazon Inspector \
        documentation (ScanStatus) and in the Inspector console's Account management > \
        Coverage view, fix the cause, and upgrade blindspot to get a specific recommendation.",
    remediation: None,
};

const fn row(
    code: &'static str,
    disposition: Disposition,
    severity: Severity,
    title: &'static str,
    recommendation: &'static str,
) -> ReasonSpec {
    ReasonSpec {
        code,
        disposition,
        severity,
        agentless_covers: false,
        title,
        recommendation,
        remediation: None,
    }
}

use Disposition::{Benign, Report, Transient};
use Severity::{High, Info, Low, Medium};

/// Every `ScanStatusReason` of the model, in model order.
pub const REASONS: &[ReasonSpec] = &[
    row(
        "PENDING_INITIAL_SCAN",
        Transient,
        Medium,
        "Resource still waiting for its first scan",
        "Amazon Inspector identified this resource but has not scanned it within the grace \
         period. For EC2, check that the instance is managed by SSM and that the \
         InspectorInventoryCollection-do-not-delete association runs on it; for ECR, that \
         enhanced scanning covers the repository; for Lambda, that the runtime is supported.",
    ),
    row(
        "ACCESS_DENIED",
        Report,
        High,
        "Inspector is denied access to the resource",
        "A resource policy (ECR repository policy, Lambda resource policy or SCP) stops Amazon \
         Inspector from reading this resource. Allow the Inspector service-linked role \
         (AWSServiceRoleForAmazonInspector2) to read it.",
    ),
    row(
        "INTERNAL_ERROR",
        Report,
        Low,
        "Inspector hit an internal error on the resource",
        "Amazon Inspector says it resolves internal errors itself and resumes scanning. If this \
         finding stays open for more than a day, open an AWS Support case with the resource ID.",
    ),
    ReasonSpec {
        code: "UNMANAGED_EC2_INSTANCE",
        disposition: Report,
        severity: High,
        agentless_covers: true,
        title: "EC2 instance is not managed by SSM",
        recommendation: "Amazon Inspector scans EC2 instances through the SSM Agent, and this \
            instance is not an SSM managed node. Attach an instance profile with \
            AmazonSSMManagedInstanceCore, make sure the SSM Agent runs and can reach the \
            ssm, ssmmessages and ec2messages endpoints, or switch the account to hybrid scan \
            mode (EC2_HYBRID) so agentless scanning covers it.",
        remediation: Some(
            "aws ssm start-automation-execution --region {region} --document-name \
             AWSSupport-TroubleshootManagedInstance --parameters InstanceId={resource}",
        ),
    },
    row(
        "UNSUPPORTED_OS",
        Report,
        Medium,
        "Operating system not supported by Inspector",
        "Amazon Inspector does not support this OS, architecture or image manifest type, so \
         nothing on it is checked for vulnerabilities. Move the workload to a supported OS \
         (https://docs.aws.amazon.com/inspector/latest/user/supported.html) or cover it with \
         another scanner and record that decision.",
    ),
    row(
        "SCAN_ELIGIBILITY_EXPIRED",
        Report,
        Low,
        "ECR image no longer eligible for rescans",
        "The ECR re-scan duration configured in Amazon Inspector has lapsed for this image, so \
         new CVEs are no longer matched against it. If the image is still deployed, lengthen \
         the ECR re-scan duration (UpdateConfiguration ecrConfiguration) or rebuild and push it.",
    ),
    row(
        "RESOURCE_TERMINATED",
        Benign,
        Info,
        "Resource terminated",
        "The resource was terminated and Amazon Inspector is cleaning up its coverage; nothing \
         to do.",
    ),
    row(
        "SUCCESSFUL",
        Report,
        Low,
        "Resource reported inactive although its last scan succeeded",
        "Amazon Inspector reports this resource as INACTIVE with reason SUCCESSFUL, which is \
         inconsistent. Check the resource in the Inspector coverage view; if it stays inactive, \
         open an AWS Support case.",
    ),
    row(
        "NO_RESOURCES_FOUND",
        Report,
        Low,
        "Inspector found nothing to scan",
        "Amazon Inspector reports no scannable content for this resource (a reason AWS marks as \
         reserved). Confirm in the Inspector coverage view that this is expected.",
    ),
    row(
        "IMAGE_SIZE_EXCEEDED",
        Report,
        Medium,
        "Image too large for Inspector to scan",
        "Amazon Inspector did not scan this image because of its size. Reduce the image (for \
         example with a multi-stage build) or scan it with another tool.",
    ),
    row(
        "SCAN_FREQUENCY_MANUAL",
        Report,
        Medium,
        "ECR repository set to manual scanning",
        "The repository's scan frequency is manual, so Amazon Inspector never scans its images. \
         Add the repository to a continuous-scanning rule in the ECR registry scanning \
         configuration (PutRegistryScanningConfiguration, scanFrequency CONTINUOUS_SCAN).",
    ),
    row(
        "SCAN_FREQUENCY_SCAN_ON_PUSH",
        Report,
        Low,
        "ECR image scanned only once, on push",
        "The repository scans on push only, so this image will not be re-checked against new \
         CVEs. Use CONTINUOUS_SCAN for repositories whose images are deployed.",
    ),
    row(
        "EC2_INSTANCE_STOPPED",
        Benign,
        Info,
        "EC2 instance stopped",
        "Amazon Inspector pauses scanning while the instance is stopped and resumes when it \
         starts; nothing to do.",
    ),
    row(
        "PENDING_DISABLE",
        Benign,
        Info,
        "Resource pending cleanup during disablement",
        "Amazon Inspector is being disabled for this resource type and is cleaning up; nothing \
         to do unless the disablement was not intended.",
    ),
    ReasonSpec {
        code: "NO_INVENTORY",
        disposition: Report,
        severity: High,
        agentless_covers: true,
        title: "EC2 instance has no SSM software inventory",
        recommendation: "Amazon Inspector found no software inventory for this instance, which \
            usually means the InspectorInventoryCollection-do-not-delete State Manager \
            association (document AWS-GatherSoftwareInventory) was deleted or fails on it. \
            Check the association's status for this instance in the SSM console and the \
            instance's inventory in Fleet Manager.",
        remediation: Some(
            "aws ssm list-inventory-entries --region {region} --instance-id {resource} \
             --type-name AWS:Application",
        ),
    },
    ReasonSpec {
        code: "STALE_INVENTORY",
        disposition: Report,
        severity: High,
        agentless_covers: true,
        title: "EC2 instance's SSM software inventory is stale",
        recommendation: "Amazon Inspector could not collect an updated software inventory for \
            this instance in the last 7 days. Confirm that the \
            InspectorInventoryCollection-do-not-delete association still exists, targets this \
            instance and succeeds on it, and that the SSM Agent is online.",
        remediation: Some(
            "aws ssm list-inventory-entries --region {region} --instance-id {resource} \
             --type-name AWS:Application",
        ),
    },
    row(
        "EXCLUDED_BY_TAG",
        Benign,
        Info,
        "Resource excluded by tag",
        "The resource carries an exclusion tag (for EC2, InspectorEc2Exclusion), a deliberate \
         operator decision. Review the tag if the exclusion is no longer intended.",
    ),
    row(
        "UNSUPPORTED_RUNTIME",
        Report,
        Medium,
        "Lambda runtime not supported by Inspector",
        "Amazon Inspector does not scan functions on this runtime. Upgrade the function to a \
         supported runtime (https://docs.aws.amazon.com/inspector/latest/user/supported.html).",
    ),
    row(
        "UNSUPPORTED_MEDIA_TYPE",
        Report,
        Medium,
        "ECR image media type not supported",
        "Amazon Inspector cannot scan this image's media type. Rebuild it as a Docker v2 or OCI \
         image.",
    ),
    row(
        "UNSUPPORTED_CONFIG_FILE",
        Report,
        Low,
        "Configuration file not supported",
        "Amazon Inspector could not use a configuration file of this resource (a reason AWS \
         marks as reserved). Check the resource in the Inspector coverage view.",
    ),
    row(
        "DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED",
        Report,
        Low,
        "Deep inspection package limit exceeded",
        "The instance has more than the 5,000 packages deep inspection collects, so application \
         packages are not fully checked. Narrow the deep inspection custom paths for the \
         account.",
    ),
    row(
        "DEEP_INSPECTION_DAILY_SSM_INVENTORY_LIMIT_EXCEEDED",
        Report,
        Low,
        "Daily SSM inventory quota reached",
        "The SSM quota for inventory data per instance per day was reached, so deep inspection \
         data did not reach Amazon Inspector. Reduce other custom inventory on the instance.",
    ),
    row(
        "DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED",
        Report,
        Low,
        "Deep inspection collection timed out",
        "Package collection for deep inspection exceeded 15 minutes. Narrow the custom paths or \
         exclude large directories.",
    ),
    row(
        "DEEP_INSPECTION_NO_INVENTORY",
        Report,
        Low,
        "Deep inspection has no package inventory",
        "The Inspector plugin has not collected an application package inventory. If this lasts \
         more than 6 hours, check that the Inspector SSM associations exist and run on the \
         instance.",
    ),
    row(
        "AGENTLESS_INSTANCE_STORAGE_LIMIT_EXCEEDED",
        Report,
        Medium,
        "Instance storage too large for agentless scanning",
        "The instance's volumes exceed the agentless scanning limit. Make the instance an SSM \
         managed node so agent-based scanning covers it.",
    ),
    row(
        "AGENTLESS_INSTANCE_COLLECTION_TIME_LIMIT_EXCEEDED",
        Report,
        Medium,
        "Agentless collection timed out",
        "Agentless inventory collection took too long for this instance. Make the instance an \
         SSM managed node so agent-based scanning covers it.",
    ),
    row(
        "PENDING_REVIVAL_SCAN",
        Transient,
        Low,
        "Revived image waiting for a scan",
        "The image was restored from the ECR archive and waits for a scan. If this lasts beyond \
         the grace period, check the repository's scanning configuration.",
    ),
    row(
        "INTEGRATION_CONNECTION_LOST",
        Report,
        Medium,
        "Connection to the source code platform lost",
        "Amazon Inspector cannot reach the code repository's source code management platform. \
         Reconnect the code security integration.",
    ),
    row(
        "ACCESS_DENIED_TO_ENCRYPTION_KEY",
        Report,
        High,
        "Inspector is denied the resource's KMS key",
        "The KMS key policy does not let Amazon Inspector decrypt this resource. Grant the \
         Inspector service-linked role kms:Decrypt (and kms:DescribeKey) on the key.",
    ),
    row(
        "UNSUPPORTED_LANGUAGE",
        Report,
        Low,
        "Repository language not supported",
        "The repository contains files in a language Amazon Inspector code scanning does not \
         support; cover it with another scanner.",
    ),
    row(
        "NO_SCAN_CONFIGURATION_ASSOCIATED",
        Report,
        Medium,
        "Code repository without a scan configuration",
        "Associate a code security scan configuration with this repository.",
    ),
    row(
        "SCAN_IN_PROGRESS",
        Transient,
        Low,
        "Scan in progress",
        "The resource is being scanned. If this lasts beyond the grace period the scan is stuck; \
         check the resource in the Inspector coverage view.",
    ),
    row(
        "IMAGE_ARCHIVED",
        Report,
        Low,
        "ECR image archived",
        "The image was archived in ECR and is no longer scanned. If anything still runs it, \
         restore it so Amazon Inspector scans it again.",
    ),
    row(
        "UNSUPPORTED_CODE_ARTIFACTS",
        Report,
        Medium,
        "Lambda code artifacts not supported",
        "Amazon Inspector cannot scan this function's code artifacts. Check the package format \
         against the supported list.",
    ),
    row(
        "RESOURCE_UNMANAGED",
        Report,
        Medium,
        "Resource not managed by the scanning agent",
        "The resource is not managed by the agent Amazon Inspector needs. Install and register \
         the agent on it.",
    ),
    row(
        "RESOURCE_STOPPED",
        Report,
        Info,
        "Resource stopped",
        "The resource is stopped and not scanned while stopped. Nothing to do if that is \
         intended.",
    ),
    row(
        "EXTRACTION_COLLECTION_TIME_LIMIT_EXCEEDED",
        Report,
        Medium,
        "Artifact extraction timed out",
        "Amazon Inspector could not extract the artifact in time. Reduce the artifact's size.",
    ),
    row(
        "STORAGE_LIMIT_EXCEEDED",
        Report,
        Medium,
        "Resource exceeds Inspector's storage limit",
        "The resource is larger than Amazon Inspector can scan. Reduce its size or scan it with \
         another tool.",
    ),
    row(
        "INVALID_ARTIFACT",
        Report,
        Medium,
        "Malformed artifact",
        "The resource's artifact is malformed and could not be safely extracted. Rebuild it.",
    ),
];

/// The table row for `reason`; [`UNKNOWN`] (with the code kept by the caller)
/// for anything else, so a new AWS reason is reported rather than dropped.
pub fn lookup(reason: &str) -> &'static ReasonSpec {
    REASONS
        .iter()
        .find(|spec| spec.code == reason)
        .unwrap_or(&UNKNOWN)
}

/// Whether `reason` is in the table.
pub fn is_known(reason: &str) -> bool {
    REASONS.iter().any(|spec| spec.code == reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn table_has_every_model_reason_once() {
        // The model (inspector2/service-2.json, ScanStatusReason) has 39 values;
        // checked against the file when this table was written.
        assert_eq!(REASONS.len(), 39);
        let unique: BTreeSet<&str> = REASONS.iter().map(|s| s.code).collect();
        assert_eq!(unique.len(), REASONS.len());
        assert!(!is_known(UNKNOWN.code));
    }

    #[test]
    fn benign_reasons_are_the_documented_four() {
        let benign: BTreeSet<&str> = REASONS
            .iter()
            .filter(|s| s.disposition == Disposition::Benign)
            .map(|s| s.code)
            .collect();
        let expected: BTreeSet<&str> = [
            "EC2_INSTANCE_STOPPED",
            "RESOURCE_TERMINATED",
            "PENDING_DISABLE",
            "EXCLUDED_BY_TAG",
        ]
        .into_iter()
        .collect();
        assert_eq!(benign, expected);
    }

    #[test]
    fn every_row_has_text() {
        for spec in REASONS {
            assert!(!spec.title.is_empty(), "{}", spec.code);
            assert!(spec.recommendation.len() > 20, "{}", spec.code);
        }
    }

    #[test]
    fn unknown_reason_falls_back() {
        assert_eq!(lookup("SOMETHING_NEW").code, "UNKNOWN");
        assert_eq!(lookup("NO_INVENTORY").code, "NO_INVENTORY");
    }
}
