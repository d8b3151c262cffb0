//! Wording the rules' findings share, so that one duration reads the same in
//! every rule's titles and descriptions.

use std::time::Duration;

/// A duration for people, e.g. `12h`, `30m` or `1day 6h` (humantime's
/// format), to whole minutes when it is at least one: precise enough for a
/// finding and short enough for a title.
pub fn duration(d: Duration) -> String {
    let minutes = Duration::from_secs(d.as_secs() / 60 * 60);
    let shown = if minutes.is_zero() { d } else { minutes };
    humantime_serde::re::humantime::format_duration(shown).to_string()
}

/// A duration as an SSM rate expression, e.g. `rate(30 minutes)`: what a
/// remediation command sets a schedule back to.
pub fn rate_expression(every: Duration) -> String {
    let minutes = (every.as_secs() / 60).max(1);
    let (n, unit) = if minutes.is_multiple_of(24 * 60) {
        (minutes / (24 * 60), "day")
    } else if minutes.is_multiple_of(60) {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    format!("rate({n} {unit}{})", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_whole_minutes() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (90, "1m"),
            (12 * 3600, "12h"),
            (30 * 3600 + 59, "1day 6h"),
            (3 * 86_400, "3days"),
        ];
        for (secs, text) in cases {
            assert_eq!(duration(Duration::from_secs(secs)), text, "{secs}s");
        }
    }

    #[test]
    fn rate_expressions_use_the_largest_whole_unit() {
        let cases = [
            (30, "rate(1 minute)"),
            (30 * 60, "rate(30 minutes)"),
            (3600, "rate(1 hour)"),
            (12 * 3600, "rate(12 hours)"),
            (2 * 86_400, "rate(2 days)"),
        ];
        for (secs, text) in cases {
            assert_eq!(rate_expression(Duration::from_secs(secs)), text, "{secs}s");
        }
    }
}
