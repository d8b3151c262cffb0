//! Classification of SDK errors into [`AwsError`], the per-call metering
//! that feeds `blindspot_aws_requests_total`, and the bounds every call
//! passes: pacing per client, then one permit of the global cap.
//!
//! # Bounded calls
//! `Calls::run` first waits for its client's pacer (a GCRA token bucket of
//! `governor`: `calls_per_second` on average, bursts of `ceil(rate)`; a
//! client is one service in one account and region), then for a permit of
//! the factory's one semaphore of `max_in_flight_calls`, and holds the
//! permit for the call, the SDK's retries included. Pacing comes first so
//! that a client waiting for its own rate holds no permit the others could
//! use. `CallLimits` counts the permits in use and the time spent waiting
//! for either.
//!
//! # Text for people
//! An [`AwsError`]'s message is what an on-call engineer reads in a log line,
//! an evaluation's error and `check`'s output: the AWS code and message when
//! AWS sent them, otherwise the error chain on one line. Never the SDK's
//! `Debug` output: `DisplayErrorContext` appends a `Debug` dump of the whole
//! error (struct braces, response headers), so [`error_text`] walks the
//! chain itself.

use std::error::Error as StdError;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sts::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sts::error::BoxError;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
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

/// The bounds every client of one factory shares: the cap on calls in
/// flight, and how long calls waited for it and for their pacing.
#[derive(Debug)]
pub(crate) struct CallLimits {
    permits: tokio::sync::Semaphore,
    max: usize,
    pacing_wait_nanos: AtomicU64,
    permit_wait_nanos: AtomicU64,
}

impl CallLimits {
    /// A cap of `max` calls in flight (at least 1; validated by the settings).
    pub(crate) fn new(max: usize) -> Self {
        let max = max.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        CallLimits {
            permits: tokio::sync::Semaphore::new(max),
            max,
            pacing_wait_nanos: AtomicU64::new(0),
            permit_wait_nanos: AtomicU64::new(0),
        }
    }

    /// Calls holding a permit now.
    pub(crate) fn in_flight(&self) -> usize {
        self.max.saturating_sub(self.permits.available_permits())
    }

    /// Time all calls spent waiting for their client's pacing, so far.
    pub(crate) fn pacing_wait(&self) -> Duration {
        Duration::from_nanos(self.pacing_wait_nanos.load(Ordering::Relaxed))
    }

    /// Time all calls spent waiting for a permit, so far.
    pub(crate) fn permit_wait(&self) -> Duration {
        Duration::from_nanos(self.permit_wait_nanos.load(Ordering::Relaxed))
    }
}

/// Adds the time since `since` to a nanosecond total.
fn add_wait(total: &AtomicU64, since: Instant) {
    let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
    total.fetch_add(nanos, Ordering::Relaxed);
}

/// One client's pacer.
pub(crate) type Pacer = governor::DefaultDirectRateLimiter;

/// The longest gap between two calls pacing can impose: a rate below one
/// call an hour is taken as one call an hour, so that no setting makes the
/// period overflow.
const SLOWEST_PACE: Duration = Duration::from_secs(3600);

/// A pacer of `calls_per_second` on average, in bursts of `ceil(rate)`;
/// `None` when the rate is too high to pace at all (a period below 1 ns).
pub(crate) fn pacer(calls_per_second: f64) -> Option<Arc<Pacer>> {
    let period = Duration::try_from_secs_f64(1.0 / calls_per_second)
        .unwrap_or(SLOWEST_PACE)
        .min(SLOWEST_PACE);
    // At most u32::MAX, at least 1: `as` saturates, `max` lifts 0.
    let burst = NonZeroU32::new((calls_per_second.ceil() as u32).max(1))?;
    let quota = governor::Quota::with_period(period)?.allow_burst(burst);
    Some(Arc::new(governor::RateLimiter::direct(quota)))
}

/// Metering, error context and bounds for one service client: every port
/// call goes through [`Calls::run`], so counting and bounding cannot be
/// forgotten per operation.
#[derive(Clone)]
pub(crate) struct Calls {
    pub(crate) service: &'static str,
    counter: CallCounter,
    /// Whether the client talks to an endpoint someone configured, rather
    /// than the service's default AWS endpoint for the region.
    custom_endpoint: bool,
    /// The factory's cap on calls in flight, shared by every client.
    limits: Arc<CallLimits>,
    /// This client's own pace.
    pacer: Option<Arc<Pacer>>,
}

impl Calls {
    pub(crate) fn new(
        service: &'static str,
        counter: CallCounter,
        custom_endpoint: bool,
        limits: Arc<CallLimits>,
        pacer: Option<Arc<Pacer>>,
    ) -> Self {
        Calls {
            service,
            counter,
            custom_endpoint,
            limits,
            pacer,
        }
    }

    /// Runs one port call within the bounds and records its outcome.
    pub(crate) async fn run<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        if let Some(pacer) = &self.pacer {
            let since = Instant::now();
            pacer.until_ready().await;
            add_wait(&self.limits.pacing_wait_nanos, since);
        }
        let since = Instant::now();
        // The semaphore is never closed; were it, the call would run unbounded
        // rather than fail.
        let permit = self.limits.permits.acquire().await.ok();
        add_wait(&self.limits.permit_wait_nanos, since);
        let result = call.await;
        drop(permit);
        let outcome = match &result {
            Ok(_) => OUTCOME_OK,
            Err(e) => e.kind.as_str(),
        };
        self.counter.record(self.service, operation, outcome);
        if let Err(e) = &result {
            log_failure(e);
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

/// Logs one line per failed call: the AWS code as a field, and the error's
/// one-line text (service, operation, kind, code and message). A service
/// that does not exist in a region is expected, not a warning. STS is called
/// only to resolve accounts, and the resolver logs each failure with the
/// account's name; a second line here would say the same thing twice.
fn log_failure(e: &AwsError) {
    let code = e.code.as_deref().unwrap_or("-");
    if e.kind == AwsErrorKind::Unavailable || e.service == crate::sts::SERVICE {
        tracing::debug!(code, error = %e, "AWS call failed");
    } else {
        tracing::warn!(code, error = %e, "AWS call failed");
    }
}

/// An error as one line for people: each message of its source chain once,
/// joined by ": ", with no `Debug` output. For an answer of AWS itself,
/// [`service_error_text`] (its code and message) says more.
///
/// The SDK's errors repeat themselves down the chain ("dispatch failure:
/// io error: ... : Connection refused"), so a message already contained in
/// the text so far is skipped.
pub fn error_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = one_line(&e.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// `AWS code: message` of an SDK service error, or `None` for other errors.
pub fn service_error_text<E>(err: &SdkError<E, HttpResponse>) -> Option<String>
where
    E: ProvideErrorMetadata,
{
    let SdkError::ServiceError(_) = err else {
        return None;
    };
    match (err.code(), err.message().map(one_line)) {
        (Some(code), Some(message)) if !message.is_empty() => Some(format!("{code}: {message}")),
        (Some(code), _) => Some(code.to_owned()),
        (None, Some(message)) if !message.is_empty() => Some(message),
        _ => None,
    }
}

/// Collapses line breaks and runs of whitespace, so that a message stays on
/// its log line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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
    let detail = || error_text(err);
    let new = |kind, message: String| AwsError::new(service, operation, kind, message);
    match err {
        SdkError::ServiceError(ctx) => {
            let message = err
                .message()
                .map(one_line)
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "the answer has no message".to_owned());
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
    if let CredentialsError::ProviderTimedOut(_) = err {
        let message = format!("credentials could not be loaded: {}", error_text(err));
        return AwsError::new(service, operation, AwsErrorKind::Timeout, message);
    }
    match find_source::<SdkError<AssumeRoleError, HttpResponse>>(err) {
        Some(refusal) => {
            let message = assume_role_text(refusal);
            match refusal.code() {
                Some(code) => AwsError::from_code(service, operation, code, message),
                None => AwsError::new(service, operation, AwsErrorKind::AccessDenied, message),
            }
        }
        // The default chain found nothing anywhere: one setup problem, said
        // in words a newcomer can act on rather than the chain's own dump.
        None if matches!(err, CredentialsError::CredentialsNotLoaded(_)) => {
            let text = error_text(err);
            let message = if text.contains("no credentials found in chain") {
                NO_CREDENTIALS.to_owned()
            } else {
                // A named source that is missing (a profile that is not
                // defined) says more than the general message.
                format!("credentials could not be loaded: {text}")
            };
            AwsError::new(service, operation, AwsErrorKind::NoCredentials, message)
        }
        None => AwsError::new(
            service,
            operation,
            AwsErrorKind::AccessDenied,
            format!("credentials could not be loaded: {}", error_text(err)),
        ),
    }
}

/// What a call without any credentials says: where the default chain looked.
pub const NO_CREDENTIALS: &str = "no AWS credentials found (looked in: environment variables, \
     the shared config and credentials files with their profiles, SSO and credential_process, \
     a web identity token, ECS container credentials, EC2 instance metadata)";

/// A failed AssumeRole as one line: STS's code and message when STS
/// answered (`AssumeRole was refused: AccessDenied: User: ... is not
/// authorized to perform: sts:AssumeRole on resource: ...`), else why STS
/// could not be asked.
///
/// For the factory, which assumes roles: log a refused AssumeRole with this
/// text rather than with the SDK's `Debug` or `DisplayErrorContext`.
pub fn assume_role_text(err: &SdkError<AssumeRoleError, HttpResponse>) -> String {
    match service_error_text(err) {
        Some(text) => format!("AssumeRole was refused: {text}"),
        None => format!("AssumeRole could not be called: {}", error_text(err)),
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

    /// What people read never carries `Debug` output or line breaks.
    fn assert_for_people(text: &str) {
        assert!(!text.contains('{') && !text.contains('}'), "{text}");
        assert!(!text.contains('\n'), "{text}");
        for debug in [
            "DispatchFailure",
            "ConnectorError",
            "ServiceError",
            "Some(",
            "kind:",
        ] {
            assert!(!text.contains(debug), "{debug} in {text}");
        }
    }

    #[test]
    fn errors_read_as_one_line_without_debug_output() {
        let refused = SdkError::<ListAssociationsError, HttpResponse>::dispatch_failure(
            ConnectorError::io(Box::new(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "tcp connect error: Connection refused (os error 111)",
            ))),
        );
        let e = classify("ssm", "ListAssociations", &refused, true);
        assert_for_people(&e.to_string());
        assert!(e.message.contains("Connection refused"), "{e}");
        // Each message of the chain once.
        assert_eq!(e.message.matches("Connection refused").count(), 1, "{e}");

        let timeout = SdkError::<ListAssociationsError, HttpResponse>::timeout_error("slow");
        assert_for_people(&classify("ssm", "ListAssociations", &timeout, true).to_string());

        let garbled = SdkError::<ListAssociationsError, HttpResponse>::response_error(
            "bad json\nat line 1",
            response(200),
        );
        assert_for_people(&classify("ssm", "ListAssociations", &garbled, true).to_string());

        // A service error without a message says so, not its Debug form.
        let err = SdkError::service_error(
            ListAssociationsError::generic(ErrorMetadata::builder().code("Boom").build()),
            response(400),
        );
        let e = classify("ssm", "ListAssociations", &err, true);
        assert_eq!(
            e.to_string(),
            "ssm:ListAssociations failed (service_error, Boom): the answer has no message"
        );
    }

    #[test]
    fn a_refused_assume_role_is_one_line_with_code_and_message() {
        let refusal = SdkError::<AssumeRoleError, HttpResponse>::service_error(
            AssumeRoleError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message(
                        "User: arn:aws:iam::111122223333:user/audit is not authorized to perform: \
                         sts:AssumeRole on resource: arn:aws:iam::444455556666:role/blindspot",
                    )
                    .build(),
            ),
            response(403),
        );
        assert_eq!(
            assume_role_text(&refusal),
            "AssumeRole was refused: AccessDenied: User: arn:aws:iam::111122223333:user/audit \
             is not authorized to perform: sts:AssumeRole on resource: \
             arn:aws:iam::444455556666:role/blindspot"
        );
        let failed = SdkError::<ListAssociationsError, HttpResponse>::dispatch_failure(
            ConnectorError::other(Box::new(CredentialsError::provider_error(refusal)), None),
        );
        let e = classify("sts", "GetCallerIdentity", &failed, true);
        assert_eq!(e.kind, AwsErrorKind::AccessDenied);
        assert_eq!(e.code.as_deref(), Some("AccessDenied"));
        assert_for_people(&e.to_string());
        assert!(
            e.to_string().starts_with(
                "sts:GetCallerIdentity failed (access_denied, AccessDenied): AssumeRole was refused: AccessDenied: User:"
            ),
            "{e}"
        );
        let unreachable = SdkError::<AssumeRoleError, HttpResponse>::timeout_error("slow");
        let text = assume_role_text(&unreachable);
        assert!(
            text.starts_with("AssumeRole could not be called: "),
            "{text}"
        );
        assert_for_people(&text);
        let no_profile = SdkError::<ListAssociationsError, HttpResponse>::dispatch_failure(
            ConnectorError::other(
                Box::new(CredentialsError::not_loaded("profile `x` was not defined")),
                None,
            ),
        );
        let e = classify("sts", "GetCallerIdentity", &no_profile, true);
        assert_for_people(&e.to_string());
        assert!(e.message.contains("profile `x` was not defined"), "{e}");
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
            AwsErrorKind::NoCredentials
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
