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

/// A value from AWS as one word of a POSIX shell command. The commands that
/// findings carry are meant to be pasted into a shell, and an instance ID,
/// association name or resource ID comes from outside: it is quoted unless it
/// only has characters a shell reads literally (real IDs stay as they are).
pub fn shell_word(value: &str) -> String {
    // try_quote fails only on a NUL byte, which no shell word can hold.
    let clean: String = value.chars().filter(|c| *c != '\0').collect();
    shlex::try_quote(&clean)
        .map(|quoted| quoted.into_owned())
        .unwrap_or_else(|_| "''".to_owned())
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
    fn aws_values_are_quoted_only_when_a_shell_would_misread_them() {
        let cases = [
            ("i-0abcd1234abcd1234", "i-0abcd1234abcd1234"),
            (
                "InspectorInventoryCollection-do-not-delete",
                "InspectorInventoryCollection-do-not-delete",
            ),
            (
                "arn:aws:lambda:eu-west-1:111122223333:function:f",
                "arn:aws:lambda:eu-west-1:111122223333:function:f",
            ),
            ("i-1; rm -rf /", "'i-1; rm -rf /'"),
            ("$(id)", "'$(id)'"),
            ("it's", "\"it's\""),
            ("a\0b", "ab"),
        ];
        for (value, word) in cases {
            assert_eq!(shell_word(value), word, "{value:?}");
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
