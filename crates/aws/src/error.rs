//! The one error type every port returns, classified so that rules can tell
//! "the service is not here" from "the call failed".

use blindspot_core::RuleError;

/// What kind of failure an AWS call ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AwsErrorKind {
    /// Throttled after the SDK's own retries (`ThrottlingException` and kin).
    Throttled,
    /// The credentials may not make this call (`AccessDeniedException` and kin).
    AccessDenied,
    /// The service does not answer in this region: an endpoint that does not
    /// exist, `UnknownOperationException`, or Inspector Classic after its
    /// retirement on 2026-05-20.
    Unavailable,
    /// The call or one attempt outlived its timeout.
    Timeout,
    /// A connection or I/O failure.
    Transport,
    /// The service rejected the request as invalid.
    InvalidRequest,
    /// A 5xx or any other service error.
    Service,
    /// The answer could not be understood.
    InvalidResponse,
    /// No credentials could be found at all: the whole credential chain
    /// (environment, profiles and SSO, web identity, container, instance
    /// metadata) came up empty. Not one call's problem, but the setup's.
    NoCredentials,
}

impl AwsErrorKind {
    /// The lowercase name used in logs and the `outcome` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            AwsErrorKind::Throttled => "throttled",
            AwsErrorKind::AccessDenied => "access_denied",
            AwsErrorKind::Unavailable => "unavailable",
            AwsErrorKind::Timeout => "timeout",
            AwsErrorKind::Transport => "transport",
            AwsErrorKind::InvalidRequest => "invalid_request",
            AwsErrorKind::Service => "service_error",
            AwsErrorKind::InvalidResponse => "invalid_response",
            AwsErrorKind::NoCredentials => "no_credentials",
        }
    }

    /// Classifies an AWS error code (the `__type` or `Code` of an error body).
    pub fn from_code(code: &str) -> AwsErrorKind {
        // Some services prefix the code with a namespace ("aws.protocol#Code").
        let code = code.rsplit('#').next().unwrap_or(code);
        match code {
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "ProvisionedThroughputExceededException"
            | "LimitExceededException" => AwsErrorKind::Throttled,
            "AccessDeniedException"
            | "AccessDenied"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredTokenException"
            | "ExpiredToken"
            | "SignatureDoesNotMatch" => AwsErrorKind::AccessDenied,
            "UnknownOperationException"
            | "InvalidAction"
            | "OptInRequired"
            | "SubscriptionRequiredException"
            | "UnsupportedFeatureException" => AwsErrorKind::Unavailable,
            "ValidationException"
            | "InvalidInputException"
            | "InvalidNextToken"
            | "InvalidParameterValue"
            | "InvalidParameterValueException"
            | "InvalidParameterException"
            | "SerializationException" => AwsErrorKind::InvalidRequest,
            _ => AwsErrorKind::Service,
        }
    }
}

/// A failed AWS call, with enough context to act on and no credentials in it.
///
/// Its `Display` is one line, `service:Operation failed (kind, Code): message`,
/// because it is what logs, evaluations and `check`'s output show: the
/// constructors fold line breaks in the message into spaces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service}:{operation} failed ({}{}): {message}", kind.as_str(), code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
pub struct AwsError {
    /// The service, e.g. `inspector`, `ssm`, `inspector2`, `sts`.
    pub service: &'static str,
    /// The operation, e.g. `ListAssessmentRuns`.
    pub operation: &'static str,
    /// The classification.
    pub kind: AwsErrorKind,
    /// The AWS error code, when the service sent one.
    pub code: Option<String>,
    /// The message, on one line.
    pub message: String,
}

/// Folds line breaks and runs of whitespace into single spaces.
fn one_line(message: String) -> String {
    if message.contains(char::is_control) || message.contains("  ") {
        message.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        message
    }
}

impl AwsError {
    /// Builds an error from an AWS error code and message.
    pub fn from_code(
        service: &'static str,
        operation: &'static str,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            kind: AwsErrorKind::from_code(code),
            code: Some(code.to_owned()),
            message: one_line(message.into()),
        }
    }

    /// Builds an error of a known kind without an AWS code.
    pub fn new(
        service: &'static str,
        operation: &'static str,
        kind: AwsErrorKind,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            kind,
            code: None,
            message: one_line(message.into()),
        }
    }
}

impl From<AwsError> for RuleError {
    /// Unavailability is not the operator's problem and must not read as a
    /// failure; everything else makes the evaluation incomplete.
    fn from(err: AwsError) -> Self {
        match err.kind {
            AwsErrorKind::Unavailable => RuleError::Unavailable(err.to_string()),
            _ => RuleError::Failed(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert_eq!(
            AwsErrorKind::from_code("ThrottlingException"),
            AwsErrorKind::Throttled
        );
        assert_eq!(
            AwsErrorKind::from_code("com.amazon#AccessDeniedException"),
            AwsErrorKind::AccessDenied
        );
        assert_eq!(
            AwsErrorKind::from_code("UnknownOperationException"),
            AwsErrorKind::Unavailable
        );
        assert_eq!(
            AwsErrorKind::from_code("InternalServerError"),
            AwsErrorKind::Service
        );
    }

    #[test]
    fn display_is_one_line_with_code_and_message() {
        let e = AwsError::from_code(
            "sts",
            "AssumeRole",
            "AccessDenied",
            "User: arn:aws:iam::111122223333:user/x is not authorized\n  to perform: sts:AssumeRole",
        );
        assert_eq!(
            e.to_string(),
            "sts:AssumeRole failed (access_denied, AccessDenied): User: \
             arn:aws:iam::111122223333:user/x is not authorized to perform: sts:AssumeRole"
        );
        let e = AwsError::new(
            "ssm",
            "ListAssociations",
            AwsErrorKind::Timeout,
            "slow\r\n\tvery slow",
        );
        assert_eq!(
            e.to_string(),
            "ssm:ListAssociations failed (timeout): slow very slow"
        );
    }

    #[test]
    fn maps_to_rule_errors() {
        let e = AwsError::from_code(
            "inspector",
            "ListAssessmentRuns",
            "UnknownOperationException",
            "gone",
        );
        assert!(matches!(RuleError::from(e), RuleError::Unavailable(_)));
        let e = AwsError::from_code("ssm", "ListAssociations", "AccessDeniedException", "no");
        let msg = RuleError::from(e).to_string();
        assert!(msg.contains("ssm:ListAssociations"), "{msg}");
        assert!(msg.contains("access_denied"), "{msg}");
    }
}
