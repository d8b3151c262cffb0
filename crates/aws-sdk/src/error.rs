//! Classification of SDK errors into [`AwsError`], and the per-call metering
//! that feeds `blindspot_aws_requests_total`.

use std::error::Error as StdError;
use std::future::Future;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sts::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sts::error::BoxError;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use blindspot_aws::{AwsError, AwsErrorKind, Page};
use blindspot_core::CallCounter;

/// The outcome label of a successful call.
pub const OUTCOME_OK: &str = "ok";
/// The outcome label of each attempt the SDK retried (throttling, 5xx,
/// transient transport errors). It is counted in addition to the call's
/// final outcome, so `ok` plus error outcomes still count calls.
pub const OUTCOME_RETRIED_ATTEMPT: &str = "retried_attempt";

/// Counts the SDK's own retries, which the port calls cannot see: the
/// orchestrator stores the attempt number before every attempt.
#[derive(Debug)]
pub(crate) struct RetryCounter {
    service: &'static str,
    counter: CallCounter,
}

impl RetryCounter {
    pub(crate) fn new(service: &'static str, counter: CallCounter) -> Self {
        RetryCounter { service, counter }
    }
}

impl Intercept for RetryCounter {
    fn name(&self) -> &'static str {
        "BlindspotRetryCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        if attempt > 1 {
            let operation = cfg.load::<Metadata>().map_or("unknown", |m| m.name());
            self.counter
                .record(self.service, operation, OUTCOME_RETRIED_ATTEMPT);
        }
        Ok(())
    }
}

/// Metering and error context for one service client: every port call goes
/// through [`Calls::run`], so counting cannot be forgotten per operation.
#[derive(Clone)]
pub(crate) struct Calls {
    pub(crate) service: &'static str,
    counter: CallCounter,
    /// Whether the client talks to an endpoint someone configured, rather
    /// than the service's default AWS endpoint for the region.
    custom_endpoint: bool,
}

impl Calls {
    pub(crate) fn new(service: &'static str, counter: CallCounter, custom_endpoint: bool) -> Self {
        Calls {
            service,
            counter,
            custom_endpoint,
        }
    }

    /// Runs one port call and records its outcome.
    pub(crate) async fn run<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        let result = call.await;
        let outcome = match &result {
            Ok(_) => OUTCOME_OK,
            Err(e) => e.kind.as_str(),
        };
        self.counter.record(self.service, operation, outcome);
        if let Err(e) = &result {
            tracing::debug!(service = self.service, operation, error = %e, "AWS call failed");
        }
        result
    }

    /// Classifies an SDK error of `operation`.
    pub(crate) fn error<E>(
        &self,
        operation: &'static str,
        err: &SdkError<E, HttpResponse>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        classify(self.service, operation, err, self.custom_endpoint)
    }

    /// Converts one page of SDK items into a port [`Page`]; an item that
    /// cannot be converted makes the whole answer an invalid response, because
    /// a page with a silently dropped item would look complete.
    pub(crate) fn page<S, T>(
        &self,
        operation: &'static str,
        items: &[S],
        convert: impl Fn(&S) -> Result<T, String>,
        next_token: Option<&str>,
    ) -> Result<Page<T>, AwsError> {
        let items = items
            .iter()
            .map(convert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| self.invalid_response(operation, m))?;
        Ok(Page {
            items,
            next_token: next_token.map(str::to_owned),
        })
    }

    /// An answer that parsed but cannot be used (missing or out-of-range data).
    pub(crate) fn invalid_response(
        &self,
        operation: &'static str,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError::new(
            self.service,
            operation,
            AwsErrorKind::InvalidResponse,
            message,
        )
    }

    /// A request the adapter refuses to send (e.g. more ARNs than the API takes).
    pub(crate) fn invalid_request(
        &self,
        operation: &'static str,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError::new(
            self.service,
            operation,
            AwsErrorKind::InvalidRequest,
            message,
        )
    }
}

/// Maps an SDK error to an [`AwsError`].
///
/// Service errors are classified by their code, never by variant: SSM's
/// throttling, for one, surfaces as an *unhandled* error whose code is
/// `ThrottlingException`. `custom_endpoint` decides what a DNS failure means:
/// for the default AWS endpoint it means the service does not exist in the
/// region; for a configured endpoint it is an ordinary transport failure.
pub fn classify<E>(
    service: &'static str,
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
    custom_endpoint: bool,
) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let detail = || DisplayErrorContext(err).to_string();
    let new = |kind, message: String| AwsError::new(service, operation, kind, message);
    match err {
        SdkError::ServiceError(ctx) => {
            let message = err.message().map(str::to_owned).unwrap_or_else(detail);
            match err.code() {
                Some(code) if !code.is_empty() => {
                    AwsError::from_code(service, operation, code, message)
                }
                _ => {
                    let status = ctx.raw().status().as_u16();
                    let kind = match status {
                        403 => AwsErrorKind::AccessDenied,
                        429 => AwsErrorKind::Throttled,
                        500..=599 => AwsErrorKind::Service,
                        _ => AwsErrorKind::InvalidResponse,
                    };
                    new(
                        kind,
                        format!("HTTP {status} without an error code: {message}"),
                    )
                }
            }
        }
        SdkError::TimeoutError(_) => new(AwsErrorKind::Timeout, detail()),
        SdkError::DispatchFailure(failure) => {
            if let Some(cred) = find_source::<CredentialsError>(err) {
                credentials_failure(service, operation, cred)
            } else if failure.is_timeout() {
                new(AwsErrorKind::Timeout, detail())
            } else if !custom_endpoint && is_dns_failure(err) {
                new(
                    AwsErrorKind::Unavailable,
                    format!("the service has no endpoint in this region: {}", detail()),
                )
            } else {
                new(AwsErrorKind::Transport, detail())
            }
        }
        SdkError::ResponseError(_) => new(AwsErrorKind::InvalidResponse, detail()),
        SdkError::ConstructionFailure(_) => new(AwsErrorKind::InvalidRequest, detail()),
        // SdkError is non-exhaustive; a future variant is still a failed call.
        _ => new(AwsErrorKind::Service, detail()),
    }
}

/// The first error of type `T` in `err`'s source chain.
fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Classifies a call that failed because its credentials could not be
/// loaded: a missing profile or a refused AssumeRole is a permission problem
/// of the account, not a transport failure; a refused AssumeRole keeps the
/// code STS gave (so throttling of STS still reads as throttling).
fn credentials_failure(
    service: &'static str,
    operation: &'static str,
    err: &CredentialsError,
) -> AwsError {
    let message = format!(
        "credentials could not be loaded: {}",
        DisplayErrorContext(err)
    );
    if let CredentialsError::ProviderTimedOut(_) = err {
        return AwsError::new(service, operation, AwsErrorKind::Timeout, message);
    }
    let sts_code = find_source::<SdkError<AssumeRoleError, HttpResponse>>(err)
        .and_then(|e| e.code())
        .map(str::to_owned);
    match sts_code {
        Some(code) => AwsError::from_code(service, operation, &code, message),
        None => AwsError::new(service, operation, AwsErrorKind::AccessDenied, message),
    }
}

/// Whether a dispatch failure was a failed name lookup. The HTTP stack
/// (hyper-util) reports it as "dns error" wrapping the resolver's
/// "failed to lookup address information".
fn is_dns_failure(err: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use aws_sdk_ssm::operation::list_associations::ListAssociationsError;
    use aws_sdk_sts::error::{ConnectorError, ErrorMetadata};
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::from("{}"))
    }

    fn service_error(
        code: Option<&str>,
        status: u16,
    ) -> SdkError<ListAssociationsError, HttpResponse> {
        let mut meta = ErrorMetadata::builder().message("Rate exceeded");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let err = ListAssociationsError::generic(meta.build());
        SdkError::service_error(err, response(status))
    }

    #[test]
    fn unhandled_throttling_is_classified_by_code() {
        let e = classify(
            "ssm",
            "ListAssociations",
            &service_error(Some("ThrottlingException"), 400),
            false,
        );
        assert_eq!(e.kind, AwsErrorKind::Throttled);
        assert_eq!(e.code.as_deref(), Some("ThrottlingException"));
        assert_eq!(e.message, "Rate exceeded");
        assert_eq!((e.service, e.operation), ("ssm", "ListAssociations"));
    }

    #[test]
    fn codeless_errors_use_the_status() {
        let kind = |s| classify("ssm", "ListAssociations", &service_error(None, s), false).kind;
        assert_eq!(kind(503), AwsErrorKind::Service);
        assert_eq!(kind(403), AwsErrorKind::AccessDenied);
        assert_eq!(kind(429), AwsErrorKind::Throttled);
        assert_eq!(kind(404), AwsErrorKind::InvalidResponse);
    }

    #[test]
    fn dns_failure_means_unavailable_only_at_default_endpoints() {
        #[derive(Debug)]
        struct Dns;
        impl std::fmt::Display for Dns {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("dns error: failed to lookup address information")
            }
        }
        impl StdError for Dns {}
        let err = || {
            SdkError::<ListAssociationsError, HttpResponse>::dispatch_failure(ConnectorError::io(
                Box::new(Dns),
            ))
        };
        assert_eq!(
            classify("ssm", "ListAssociations", &err(), false).kind,
            AwsErrorKind::Unavailable
        );
        assert_eq!(
            classify("ssm", "ListAssociations", &err(), true).kind,
            AwsErrorKind::Transport
        );
        let refused = SdkError::<ListAssociationsError, HttpResponse>::dispatch_failure(
            ConnectorError::io(Box::new(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ))),
        );
        assert_eq!(
            classify("ssm", "ListAssociations", &refused, false).kind,
            AwsErrorKind::Transport
        );
        let timeout = SdkError::<ListAssociationsError, HttpResponse>::timeout_error("slow");
        assert_eq!(
            classify("ssm", "ListAssociations", &timeout, false).kind,
            AwsErrorKind::Timeout
        );
        let no_creds = SdkError::<ListAssociationsError, HttpResponse>::dispatch_failure(
            ConnectorError::other(
                Box::new(CredentialsError::not_loaded("profile `x` was not defined")),
                None,
            ),
        );
        assert_eq!(
            classify("ssm", "ListAssociations", &no_creds, false).kind,
            AwsErrorKind::AccessDenied
        );
        let sts_throttled = SdkError::<AssumeRoleError, HttpResponse>::service_error(
            AssumeRoleError::generic(ErrorMetadata::builder().code("Throttling").build()),
            response(400),
        );
        let refused = SdkError::<ListAssociationsError, HttpResponse>::dispatch_failure(
            ConnectorError::other(
                Box::new(CredentialsError::provider_error(sts_throttled)),
                None,
            ),
        );
        let e = classify("ssm", "ListAssociations", &refused, false);
        assert_eq!(e.kind, AwsErrorKind::Throttled, "{e}");
        assert_eq!(e.code.as_deref(), Some("Throttling"));
        let garbled = SdkError::<ListAssociationsError, HttpResponse>::response_error(
            "bad json",
            response(200),
        );
        assert_eq!(
            classify("ssm", "ListAssociations", &garbled, false).kind,
            AwsErrorKind::InvalidResponse
        );
    }
}
