//! The `blindspot` binary: watches Amazon Inspector for what it cannot see.
//!
//! This crate is the thin edge: it parses the command line and the config
//! file, wires the AWS adapter, rules, engine, store and server together, and
//! turns errors into exit codes. Logic lives in the library crates.
//!
//! Exit codes of `check`: 0 no findings, 1 findings, 2 usage error, 3 some
//! evaluation ended in `error` (results incomplete), 4 config file unreadable
//! or invalid, 5 blindspot could not run. They are defined in [`exit`].

mod aws;
mod check;
mod config;
mod daemon;
mod exit;
mod output;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a coverage evaluation over a large
/// fleet allocates hundreds of megabytes on several threads and frees them on
/// another, and glibc's per-thread arenas keep that high-water mark resident
/// for the life of the daemon. See tests/bench/daemon_rss.py.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The version with the commit and the build date (set by `build.rs`), as
/// `--version` prints it after the name: `0.1.0 (abc123def456 2026-11-30)`.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BLINDSPOT_GIT_COMMIT"),
    " ",
    env!("BLINDSPOT_BUILD_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "blindspot",
    version = VERSION,
    about = "Finds where Amazon Inspector has gone blind: classic exclusions, broken v2 \
             State Manager associations and uncovered resources.",
    after_help = exit::help()
)]
struct Cli {
    /// Log filter (tracing env-filter syntax), e.g. `info` or `blindspot=debug`.
    #[arg(long, global = true, env = "BLINDSPOT_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: evaluate rules on their intervals and serve HTTP.
    Run {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Evaluate the enabled rules once and print the findings.
    #[command(after_help = exit::help())]
    Check {
        /// The config file; without it, defaults apply.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Regions to check, overriding the config (comma-separated).
        #[arg(long, value_delimiter = ',')]
        regions: Vec<String>,
        /// Only these rules (ID or alias), even if disabled in the config.
        #[arg(long = "rule")]
        rules: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The least severity that makes the exit code 1: `info` findings
        /// (a resource still within its grace, a missing Windows association
        /// where there are no Windows nodes) are listed but, by default, do
        /// not fail a pipeline.
        #[arg(long, default_value = "low", value_name = "SEVERITY")]
        fail_on: blindspot_core::Severity,
    },
    /// Start the simulated AWS with a built-in scenario and show blindspot on it;
    /// no AWS account needed.
    #[command(after_help = "With --once, exits like `check` (see `blindspot check --help`).")]
    Demo {
        /// Address of blindspot's HTTP server [default: 127.0.0.1:9477, or a
        /// free port on 127.0.0.1 when that one is taken].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// A scenario file instead of the built-in demo scenario.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Run one check, print it and exit instead of running the daemon.
        #[arg(long)]
        once: bool,
        /// With --once: the output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List the rules with their IDs, aliases, severity and a summary.
    Rules {
        /// The config file (to show enabled state and intervals).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run only the simulated AWS (for tests, benchmarks and experiments).
    Sim {
        /// The scenario file; default: the built-in demo scenario.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Generate a fleet with this many instances per region instead.
        #[arg(long, conflicts_with = "scenario")]
        fleet: Option<usize>,
        /// With --fleet: the regions (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "us-east-1,eu-west-1")]
        fleet_regions: Vec<String>,
        /// With --fleet: the percentage of instances Inspector cannot scan
        /// (coverage INACTIVE), spread over the usual reasons.
        #[arg(long, default_value_t = 20.0, value_parser = percent)]
        fleet_uncovered_percent: f64,
        /// With --fleet: the generator's seed.
        #[arg(long, default_value_t = 1)]
        fleet_seed: u64,
        /// With --fleet: the number of accounts. Above 1 they form an
        /// organisation (100000000001 upwards, named account-0001...) whose
        /// first account is the management account and Inspector's delegated
        /// administrator, the default account of the simulator; 1 is the
        /// single account 123456789012 without an organisation.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        fleet_accounts: u64,
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// The configuration file: `blindspot config example > blindspot.toml` is a start.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print a shell completion script, e.g.
    /// `blindspot completions bash > /etc/bash_completion.d/blindspot`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the man page (roff), e.g. `blindspot manpage > blindspot.1`.
    Manpage {
        /// Write one page per command (blindspot.1, blindspot-run.1, ...)
        /// into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `blindspot config ...`.
#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the example configuration: every key, commented, with its
    /// default value.
    Example,
}

/// The shells `blindspot completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for clap_complete::Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => clap_complete::Shell::Bash,
            CompletionShell::Zsh => clap_complete::Shell::Zsh,
            CompletionShell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable blocks.
    Table,
    /// One JSON document.
    Json,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version on stdout with success, and usage
            // errors on stderr; either way the exit code is decided here.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_tracing(&cli.log);
    if matches!(cli.command, Command::Demo { .. }) {
        demo_environment();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::of_error(&err))
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Run { config } => {
            let config = config::Config::load(&config)?;
            daemon::run(config, None).await?;
            Ok(exit::OK)
        }
        Command::Check {
            config,
            regions,
            rules,
            format,
            fail_on,
        } => {
            let mut config = match config {
                Some(path) => config::Config::load(&path)?,
                None => config::Config::default(),
            };
            if !regions.is_empty() {
                config.aws.regions = regions;
            }
            check::run(&config, &rules, format, fail_on).await
        }
        Command::Demo {
            listen,
            scenario,
            once,
            format,
        } => {
            let scenario = match scenario {
                Some(path) => blindspot_sim::Scenario::from_path(&path)
                    .with_context(|| format!("cannot load scenario {}", path.display()))?,
                None => blindspot_sim::Scenario::embedded_demo(),
            };
            daemon::demo(scenario, listen, once, format).await
        }
        Command::Rules { config } => {
            let config = match config {
                Some(path) => config::Config::load(&path)?,
                None => config::Config::default(),
            };
            print(check::rules_table(&config).as_bytes(), "the rules")
        }
        Command::Config {
            command: ConfigCommand::Example,
        } => print(config::EXAMPLE.as_bytes(), "the example configuration"),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                clap_complete::Shell::from(shell),
                &mut Cli::command(),
                "blindspot",
                &mut script,
            );
            print(&script, "the completion script")
        }
        Command::Manpage { dir } => {
            let cli = Cli::command().disable_help_subcommand(true);
            match dir {
                None => {
                    let mut page = Vec::new();
                    man_page(cli)
                        .render(&mut page)
                        .context("cannot render the man page")?;
                    print(&page, "the man page")
                }
                Some(dir) => {
                    write_man_pages(cli, &dir).with_context(|| {
                        format!("cannot write the man pages to {}", dir.display())
                    })?;
                    Ok(exit::OK)
                }
            }
        }
        Command::Sim {
            scenario,
            fleet,
            fleet_regions,
            fleet_uncovered_percent,
            fleet_seed,
            fleet_accounts,
            listen,
        } => {
            let scenario = match (scenario, fleet) {
                (Some(path), _) => blindspot_sim::Scenario::from_path(&path)
                    .with_context(|| format!("cannot load scenario {}", path.display()))?,
                (None, Some(instances)) => {
                    let mut spec = fleet_spec(
                        instances,
                        fleet_regions,
                        fleet_uncovered_percent,
                        fleet_seed,
                    );
                    if fleet_accounts > 1 {
                        spec.accounts =
                            blindspot_sim::generate::account_ids(fleet_accounts as usize);
                        spec.organization = true;
                    }
                    // Generating hundreds of thousands of items is CPU work.
                    tokio::task::spawn_blocking(move || blindspot_sim::generate::fleet(&spec))
                        .await
                        .context("cannot generate the fleet")?
                }
                (None, None) => blindspot_sim::Scenario::embedded_demo(),
            };
            let sim = blindspot_sim::SimServer::start_on(listen, scenario)
                .await
                .context("cannot start the simulated AWS")?;
            let stop = daemon::shutdown_signal();
            println!("simulated AWS listening on {}", sim.endpoint());
            tokio::select! {
                () = sim.wait() => {},
                () = stop => {},
            }
            Ok(exit::OK)
        }
    }
}

/// The man page of `command`, dated with the build date.
fn man_page(command: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(command)
        .date(env!("BLINDSPOT_BUILD_DATE"))
        .source(concat!("blindspot ", env!("CARGO_PKG_VERSION")))
}

/// Writes the pages of `command` and of every subcommand below it into
/// `dir`, one file each, named as their SUBCOMMANDS sections refer to them
/// (`blindspot-config-example.1`), and prints each file's path.
fn write_man_pages(mut command: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    // Building gives every subcommand its full name (`blindspot-run`).
    command.build();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man_pages(sub.clone(), dir)?;
    }
    let path = man_page(command).generate_to(dir)?;
    println!("{}", path.display());
    Ok(())
}

/// Writes a command's output to stdout; a failure is exit 5.
fn print(bytes: &[u8], what: &str) -> anyhow::Result<u8> {
    let mut stdout = std::io::stdout().lock();
    std::io::Write::write_all(&mut stdout, bytes)
        .and_then(|()| std::io::Write::flush(&mut stdout))
        .with_context(|| format!("cannot write {what}"))?;
    Ok(exit::OK)
}

/// A percentage from the command line; anything outside 0-100 is a usage
/// error that clap reports (exit 2).
fn percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
        _ => Err(format!("`{text}` is not a percentage between 0 and 100")),
    }
}

/// A generated fleet whose uncovered share is `uncovered_percent` (0-100,
/// checked by [`percent`]), split over the reasons a real fleet shows most.
fn fleet_spec(
    instances: usize,
    regions: Vec<String>,
    uncovered_percent: f64,
    seed: u64,
) -> blindspot_sim::generate::FleetSpec {
    // Weights in hundredths of a percent, so 0.5% is expressible.
    let uncovered = (uncovered_percent * 100.0).round() as u32;
    let share = |part: u32| uncovered * part / 20;
    blindspot_sim::generate::FleetSpec {
        regions,
        instances_per_region: instances,
        coverage_reasons: vec![
            ("SUCCESSFUL".into(), 10_000 - uncovered),
            ("UNMANAGED_EC2_INSTANCE".into(), share(8)),
            ("UNSUPPORTED_OS".into(), share(4)),
            ("STALE_INVENTORY".into(), share(3)),
            ("NO_INVENTORY".into(), share(3)),
            ("EC2_INSTANCE_STOPPED".into(), share(2)),
        ],
        seed,
        ..Default::default()
    }
}

/// The demo talks only to the simulated AWS, with made-up credentials, so it
/// works on a machine without an AWS account and can never touch a real one.
/// Set before the runtime starts, while the process has a single thread.
fn demo_environment() {
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ROLE_ARN",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDBLINDSPOTDEMO");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "demo-secret-not-a-real-key");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
}

fn init_tracing(text: &str) {
    let mut filter = tracing_subscriber::EnvFilter::try_new(text)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // aws-config logs a refused AssumeRole at warn with the SDK's Debug dump
    // of the error; blindspot logs each failed resolution itself, once, with
    // the AWS code and message. A filter that names aws_config decides alone.
    if !text.contains("aws_config") {
        if let Ok(quiet) = "aws_config::sts::assume_role=error".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    // Logs go to stderr so `check --format json` keeps stdout clean; colour
    // only on a terminal, so the journal and log files hold plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
