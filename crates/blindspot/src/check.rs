//! `blindspot check` and `blindspot rules`.

use blindspot_core::{CallCounter, Evaluation};
use blindspot_rules::{all_rules, RuleEntry};
use std::fmt::Write as _;

use crate::config::Config;
use crate::output;
use crate::Format;

/// A `--rule` that names no rule.
#[derive(Debug, thiserror::Error)]
#[error("unknown rule `{0}`; `blindspot rules` lists them")]
pub struct SelectError(String);

/// The rules to run: the requested ones (by ID or alias, even if disabled),
/// or every enabled rule. Evaluation order is kept from `all_rules`.
pub fn select(config: &Config, requested: &[String]) -> Result<Vec<RuleEntry>, SelectError> {
    let entries = all_rules(&config.rules);
    if requested.is_empty() {
        return Ok(entries
            .into_iter()
            .filter(|e| e.scheduling.enabled)
            .collect());
    }
    let matches = |entry: &RuleEntry, name: &str| {
        let meta = entry.rule.meta();
        meta.id.eq_ignore_ascii_case(name)
            || meta.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    };
    if let Some(unknown) = requested
        .iter()
        .find(|name| !entries.iter().any(|e| matches(e, name)))
    {
        return Err(SelectError(unknown.clone()));
    }
    Ok(entries
        .into_iter()
        .filter(|e| requested.iter().any(|name| matches(e, name)))
        .collect())
}

/// Runs the selected rules once over every target and prints the result.
pub async fn run(
    config: &Config,
    requested: &[String],
    format: Format,
    fail_on: blindspot_core::Severity,
) -> anyhow::Result<u8> {
    let entries = select(config, requested)?;
    let counter = CallCounter::default();
    let names = blindspot_server::AccountNames::default();
    let accounts =
        crate::aws::Accounts::new(&config.aws, counter, crate::aws::name_sink(&names)).await?;
    let (targets, discovery) = accounts.resolve_once().await;
    // No usable credentials at all is one problem of the setup, said once
    // with what to do, not an `error` line per rule and region.
    if let Some(problem) = accounts.credentials_problem().await {
        eprint!("{}", problem.explain());
        return Ok(crate::exit::CONFIG);
    }
    if let Some(err) = &discovery {
        eprintln!("warning: only the configured accounts were checked: {err}");
    }
    let evaluations = evaluate(&entries, &targets, config.aws.concurrency).await;
    print(&evaluations, &names.snapshot(), format)?;
    let code = output::exit_code(&evaluations, fail_on);
    // An organisation that could not be read was not checked whole.
    Ok(if discovery.is_some() {
        code.max(crate::exit::INCOMPLETE)
    } else {
        code
    })
}

/// Evaluates rules in order; later rules see earlier rules' findings.
pub async fn evaluate(
    entries: &[RuleEntry],
    targets: &[blindspot_engine::Target<blindspot_aws::AwsClients>],
    concurrency: usize,
) -> Vec<Evaluation> {
    let rules: Vec<_> = entries.iter().map(|e| e.rule.clone()).collect();
    let options = blindspot_engine::RunOptions {
        concurrency,
        rule_timeouts: entries
            .iter()
            .map(|e| (e.rule.meta().id.to_owned(), e.scheduling.timeout))
            .collect(),
        ..Default::default()
    };
    blindspot_engine::run_once(&rules, targets, &options).await
}

/// Prints evaluations in the chosen format. A failed write (a closed pipe, a
/// full disk) is an error, never a panic, so it exits with its own code.
pub fn print(
    evaluations: &[Evaluation],
    names: &output::AccountNames,
    format: Format,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Json => {
            // Streamed: with 100k findings the document is over 100 MB, and
            // building it as one string first would double the peak memory.
            serde_json::to_writer_pretty(&mut out, &output::report(evaluations, names))
                .context("cannot write the report")?;
            writeln!(out).context("cannot write the report")?;
        }
        Format::Table => out
            .write_all(output::table(evaluations, names).as_bytes())
            .context("cannot write the report")?,
    }
    out.flush().context("cannot write the report")?;
    Ok(())
}

/// The text of `blindspot rules`: columns as wide as their widest value.
pub fn rules_table(config: &Config) -> String {
    let rows: Vec<[String; 6]> = all_rules(&config.rules)
        .iter()
        .map(|entry| {
            let meta = entry.rule.meta();
            [
                meta.id.to_owned(),
                if meta.aliases.is_empty() {
                    "-".to_owned()
                } else {
                    meta.aliases.join(",")
                },
                meta.severity.as_str().to_owned(),
                if entry.scheduling.enabled {
                    "yes"
                } else {
                    "no"
                }
                .to_owned(),
                humantime::format_duration(entry.scheduling.interval).to_string(),
                meta.summary.to_owned(),
            ]
        })
        .collect();
    let header = [
        "ID", "ALIASES", "SEVERITY", "ENABLED", "INTERVAL", "SUMMARY",
    ]
    .map(str::to_owned);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}
