//! The exit codes of `blindspot`, in one place. `check` (and `demo --once`)
//! uses all of them; the other commands use 0, 2, 4 and 5. A CI pipeline can
//! tell "there are findings" from "the results are incomplete" from "fix the
//! config" from "blindspot itself could not run".
//!
//! `--help` prints [`help`], which is built from [`TABLE`], so the help text
//! and the codes cannot drift apart. The README's "Use" section repeats the
//! table.

use crate::check::SelectError;
use crate::config::ConfigError;

/// `check` found nothing; any other command succeeded.
pub const OK: u8 = 0;
/// `check` reported findings at or above `--fail-on` (default `low`), and
/// every evaluation completed.
pub const FINDINGS: u8 = 1;
/// The command line is wrong: an unknown flag, a bad value, a `--rule` that
/// names no rule. clap's own errors exit with this code too.
pub const USAGE: u8 = 2;
/// Some evaluation ended in `error` (denied, throttled, timed out, an account
/// that could not be resolved): the results are incomplete, so a finding may
/// be missing. Takes precedence over [`FINDINGS`]. `unavailable` (a retired
/// Inspector Classic) is not a failure.
pub const INCOMPLETE: u8 = 3;
/// The config file cannot be read or is invalid (the message names the line
/// and the key), or there are no usable AWS credentials at all (none found,
/// or STS rejected them), which `check` reports once with the next steps. Also a token file or variable it names that cannot be read
/// (`run`), and for `demo` and `sim` an unreadable or invalid scenario file.
pub const CONFIG: u8 = 4;
/// blindspot itself could not run: the AWS clients, the store, the HTTP
/// listener or the simulated AWS could not be set up, or the output could
/// not be written. An account whose credentials fail is not this: its
/// evaluations read `error`, and the code is [`INCOMPLETE`].
pub const INTERNAL: u8 = 5;

/// Every code with its meaning, in order: the text of `--help`. A `\n` in a
/// meaning continues it on an indented line.
pub const TABLE: [(u8, &str); 6] = [
    (OK, "no findings (other commands: success)"),
    (
        FINDINGS,
        "findings at or above --fail-on (default low; info findings are listed\n\
         but do not fail), and every evaluation completed",
    ),
    (USAGE, "usage error: a bad flag or value, an unknown --rule"),
    (
        INCOMPLETE,
        "incomplete: an evaluation ended in `error` (denied, throttled, timed out,\n\
         an account that could not be resolved), so findings may be missing",
    ),
    (
        CONFIG,
        "config error: the config file cannot be read or is invalid (the message\n\
         names the line), or names a token file or variable that cannot be read;\n\
         no usable AWS credentials (none found, or STS rejected them);\n\
         for demo and sim, the same for the scenario file",
    ),
    (
        INTERNAL,
        "blindspot could not run: the AWS clients, the store, the HTTP listener or\n\
         the simulated AWS could not be set up, or the output could not be written",
    ),
];

/// The exit-code table as `--help` shows it.
pub fn help() -> String {
    let mut out = String::from("Exit codes (check; other commands use 0, 2, 4 and 5):\n");
    for (code, meaning) in TABLE {
        out.push_str(&format!("  {code}  {}\n", meaning.replace('\n', "\n     ")));
    }
    out
}

/// The exit code of a command that failed with `err`: the most specific cause
/// in its chain decides, and anything unclassified is [`INTERNAL`].
pub fn of_error(err: &anyhow::Error) -> u8 {
    let any = |cause: fn(&(dyn std::error::Error + 'static)) -> bool| err.chain().any(cause);
    if any(|cause| cause.is::<SelectError>()) {
        USAGE
    } else if any(|cause| cause.is::<ConfigError>() || cause.is::<blindspot_sim::ScenarioError>()) {
        CONFIG
    } else {
        INTERNAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_listed_in_order() {
        let codes: Vec<u8> = TABLE.iter().map(|(code, _)| *code).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5]);
        assert_eq!(
            [OK, FINDINGS, USAGE, INCOMPLETE, CONFIG, INTERNAL],
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn errors_map_to_their_code() {
        let config = ConfigError::Parse {
            path: "b.toml".into(),
            message: "line 3: bad".into(),
        };
        let err = anyhow::Error::new(config).context("loading");
        assert_eq!(of_error(&err), CONFIG);
        let scenario = blindspot_sim::ScenarioError::Invalid("no regions".into());
        assert_eq!(of_error(&anyhow::Error::new(scenario)), CONFIG);
        let unknown_rule = crate::check::select(&Default::default(), &["nope".into()])
            .err()
            .map(anyhow::Error::new)
            .unwrap_or_else(|| anyhow::anyhow!("`nope` was accepted"));
        assert_eq!(of_error(&unknown_rule), USAGE);
        assert_eq!(of_error(&anyhow::anyhow!("cannot bind")), INTERNAL);
    }
}
