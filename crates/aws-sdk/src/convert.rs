//! Conversions between SDK primitives and the ports' plain types.

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

/// An empty string as `None`: required-but-empty members (e.g. an Inspector2
/// `State` without an error) carry no information.
pub(crate) fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
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
}
