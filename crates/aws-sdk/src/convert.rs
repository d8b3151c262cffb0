//! Conversions between SDK primitives and the ports' plain types.
//!
//! # Required members AWS left out
//! The SDK's "client error correction" fills in a required member that an
//! answer left out, so that its getters need no `Option`: `""` for strings,
//! the epoch for timestamps, and for enums the variant parsed from the
//! literal text `"no value was set"`. None of these may reach a finding as
//! if AWS had sent it; the helpers here turn them back into absence (`None`,
//! or `""` where the port's field is a plain `String`).
//!
//! A required boolean left out reads `false`, which cannot be told from a
//! real `false` by its getter: a [`PresenceProbe`] reads the answer's JSON
//! body itself to say whether the member was there.

use std::sync::{Arc, Mutex};

use aws_sdk_sts::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_sts::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sts::error::BoxError;
use aws_smithy_types::DateTime as SmithyTime;
use chrono::{DateTime, Utc};

/// A smithy timestamp as chrono; `Err` names the value when it is out of
/// chrono's range (which only a broken answer can produce).
pub(crate) fn to_chrono(t: &SmithyTime) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
        .ok_or_else(|| format!("timestamp {}s is out of range", t.secs()))
}

/// [`to_chrono`] for optional members.
pub(crate) fn opt_chrono(t: Option<&SmithyTime>) -> Result<Option<DateTime<Utc>>, String> {
    t.map(to_chrono).transpose()
}

/// A chrono time as a smithy timestamp, for request filters.
pub(crate) fn to_smithy(t: &DateTime<Utc>) -> SmithyTime {
    SmithyTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

/// What the SDK's error correction puts into a required enum member that
/// the answer left out (`"no value was set".parse::<Enum>()`).
pub(crate) const SDK_ABSENT_ENUM: &str = "no value was set";

/// A string or enum value, or `None` when it is empty or the SDK's stand-in
/// for a required member the answer left out.
pub(crate) fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty() && s != SDK_ABSENT_ENUM).then(|| s.to_owned())
}

/// A required string or enum member for a port field that is a plain
/// `String`: `""` when the answer left it out.
pub(crate) fn required(s: &str) -> String {
    non_empty(s).unwrap_or_default()
}

/// A required timestamp member: `None` when the answer left it out, which
/// the SDK turns into the epoch (no Inspector or SSM date is 1970-01-01).
pub(crate) fn required_chrono(t: &SmithyTime) -> Result<Option<DateTime<Utc>>, String> {
    if t.secs() == 0 && t.subsec_nanos() == 0 {
        return Ok(None);
    }
    to_chrono(t).map(Some)
}

/// Whether members of a JSON answer were present, by JSON pointer (e.g.
/// `/autoEnable/ec2`), read from the body the SDK deserialized. Attach it
/// to one operation with `.customize().interceptor(probe.clone())`; after
/// the call, [`PresenceProbe::present`] answers for the last attempt. A body
/// it cannot read leaves every member counted as present, the SDK's value
/// standing.
#[derive(Debug, Clone)]
pub(crate) struct PresenceProbe {
    pointers: &'static [&'static str],
    present: Arc<Mutex<Option<Vec<bool>>>>,
}

impl PresenceProbe {
    pub(crate) fn new(pointers: &'static [&'static str]) -> Self {
        PresenceProbe {
            pointers,
            present: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether the `i`-th pointer named a member of the answer.
    pub(crate) fn present(&self, i: usize) -> bool {
        let seen = self.present.lock().unwrap_or_else(|e| e.into_inner());
        seen.as_ref()
            .and_then(|s| s.get(i).copied())
            .unwrap_or(true)
    }

    fn observe(&self, body: &[u8]) {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let found = self
            .pointers
            .iter()
            .map(|p| value.pointer(p).is_some_and(|v| !v.is_null()))
            .collect();
        *self.present.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
    }
}

impl Intercept for PresenceProbe {
    fn name(&self) -> &'static str {
        "BlindspotPresenceProbe"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The orchestrator has read a non-streaming body into memory by now.
        if let Some(body) = context.response().body().bytes() {
            self.observe(body);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_fractional_seconds() {
        let smithy = SmithyTime::from_fractional_secs(1_763_800_000, 0.25);
        let chrono = to_chrono(&smithy).unwrap();
        assert_eq!(chrono.timestamp(), 1_763_800_000);
        assert_eq!(chrono.timestamp_subsec_millis(), 250);
        assert_eq!(to_smithy(&chrono), smithy);
        assert!(to_chrono(&SmithyTime::from_secs(i64::MAX)).is_err());
        assert_eq!(opt_chrono(None).unwrap(), None);
        assert_eq!(non_empty(""), None);
    }

    #[test]
    fn a_probe_tells_absent_members_from_false_ones() {
        let probe = PresenceProbe::new(&["/autoEnable/ec2", "/autoEnable/ecr"]);
        assert!(
            probe.present(0) && probe.present(1),
            "unread: the SDK's value stands"
        );
        probe.observe(br#"{"autoEnable":{"ec2":false,"ecr":null}}"#);
        assert!(probe.present(0));
        assert!(!probe.present(1));
        assert!(probe.present(7));
        probe.observe(b"not json");
        assert!(!probe.present(1), "a garbled body changes nothing");
    }

    #[test]
    fn the_sdks_stand_ins_for_absent_members_are_absent() {
        assert_eq!(non_empty("no value was set"), None);
        assert_eq!(
            non_empty("ALREADY_ENABLED").as_deref(),
            Some("ALREADY_ENABLED")
        );
        assert_eq!(required("no value was set"), "");
        assert_eq!(required("COMPLETED"), "COMPLETED");
        assert_eq!(
            required_chrono(&SmithyTime::from_fractional_secs(0, 0.0)).unwrap(),
            None
        );
        let t = SmithyTime::from_secs(1_763_800_000);
        assert_eq!(
            required_chrono(&t).unwrap().map(|c| c.timestamp()),
            Some(1_763_800_000)
        );
        // The SDK's own stand-in, as its error correction builds it.
        let state = aws_sdk_inspector2::types::State::builder()
            .status(aws_sdk_inspector2::types::Status::Enabled)
            .error_code(
                SDK_ABSENT_ENUM
                    .parse::<aws_sdk_inspector2::types::ErrorCode>()
                    .unwrap(),
            )
            .error_message("")
            .build()
            .unwrap();
        assert_eq!(non_empty(state.error_code().as_str()), None);
    }
}
