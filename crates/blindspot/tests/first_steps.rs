//! What a newcomer types before anything else, through the real binary:
//! `config example` as the start of a config file, shell completions, the
//! man page, `--version` with the commit and build date, and `check` without
//! usable credentials.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{command, config_file, run};
use std::path::Path;

/// No test here talks to AWS; an endpoint nobody answers keeps it so.
const NOWHERE: &str = "http://127.0.0.1:9";

async fn blindspot(args: &[&str]) -> common::Run {
    let mut cmd = command(NOWHERE);
    cmd.args(args);
    run(cmd).await
}

#[tokio::test]
async fn config_example_prints_the_example_file_and_it_loads_as_a_config() {
    let out = blindspot(&["config", "example"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        include_str!("../../../config/blindspot.example.toml"),
        "`config example` prints config/blindspot.example.toml as it is"
    );
    // `blindspot config example > blindspot.toml` is a config file that loads
    // (the values' equality with the defaults is a unit test in config.rs).
    let (_dir, path) = config_file(&out.stdout);
    let mut cmd = command(NOWHERE);
    cmd.args(["rules", "--config"]).arg(&path);
    let rules = run(cmd).await;
    assert_eq!(rules.code, 0, "{}", rules.stderr);
    assert!(
        rules.stdout.contains("inspector2-coverage"),
        "{}",
        rules.stdout
    );
}

#[tokio::test]
async fn completions_cover_every_subcommand_for_bash_zsh_and_fish() {
    let subcommands = [
        "run",
        "check",
        "demo",
        "rules",
        "sim",
        "config",
        "completions",
        "manpage",
    ];
    for (shell, marker) in [
        ("bash", "_blindspot()"),
        ("zsh", "#compdef blindspot"),
        ("fish", "complete -c blindspot"),
    ] {
        let out = blindspot(&["completions", shell]).await;
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        for subcommand in subcommands {
            assert!(
                out.stdout.contains(subcommand),
                "{shell} completion lacks `{subcommand}`"
            );
        }
    }
    let bash = blindspot(&["completions", "bash"]).await.stdout;
    assert!(bash.contains("_blindspot"), "{bash}");
    assert!(bash.contains("complete -F _blindspot"), "{bash}");
}

#[tokio::test]
async fn completions_for_another_shell_are_a_usage_error() {
    for args in [
        &["completions", "powershell"][..],
        &["completions", "tcsh"],
        &["completions"],
    ] {
        let out = blindspot(args).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    let out = blindspot(&["completions", "powershell"]).await;
    assert!(out.stderr.contains("bash, zsh, fish"), "{}", out.stderr);
}

#[tokio::test]
async fn manpage_is_roff_with_a_name_and_the_subcommands() {
    let out = blindspot(&["manpage"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let page = &out.stdout;
    // clap_mangen opens with a roff conditional for the quote character,
    // then the title line.
    let title = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .unwrap_or_else(|| panic!("no .TH line:\n{page}"));
    assert!(title.starts_with(".TH blindspot 1 "), "{title}");
    assert!(page
        .lines()
        .take_while(|l| !l.starts_with(".TH "))
        .all(|l| l.starts_with('.')));
    assert!(page.contains("\n.SH NAME\nblindspot \\- "), "{page}");
    assert!(page.contains("\n.SH SUBCOMMANDS\n"), "{page}");
    for subcommand in ["run", "check", "demo", "config", "manpage"] {
        assert!(
            page.contains(&format!("blindspot\\-{subcommand}(1)")),
            "the man page lacks `{subcommand}`"
        );
    }
}

/// `blindspot 0.1.0 (abc123def456 2026-11-30)`: the version, then the commit
/// (12 hex digits, or `unknown` outside a git checkout) and the UTC build
/// date. In a git checkout with git, the commit is HEAD's.
#[tokio::test]
async fn version_names_the_commit_and_the_build_date() {
    let out = blindspot(&["--version"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out.stdout.trim_end();
    let inner = line
        .strip_prefix(concat!("blindspot ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected --version {line:?}"));
    let (commit, date) = inner.split_once(' ').unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() >= 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "commit {commit:?}"
    );
    assert!(is_date(date), "build date {date:?}");
    assert_eq!(blindspot(&["-V"]).await.stdout, out.stdout);

    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .ok()
        .filter(|h| h.status.success());
    if let Some(head) = head {
        assert_eq!(commit, String::from_utf8(head.stdout).unwrap().trim());
    }
}

/// `YYYY-MM-DD` with a month and day that can exist.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let number = |part: &str, digits: usize| -> Option<u32> {
        (part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    match parts[..] {
        [y, m, d] => {
            number(y, 4).is_some()
                && number(m, 2).is_some_and(|m| (1..=12).contains(&m))
                && number(d, 2).is_some_and(|d| (1..=31).contains(&d))
        }
        _ => false,
    }
}

#[test]
fn dates_are_recognised() {
    assert!(is_date("2026-11-30"));
    assert!(is_date("1970-01-01"));
    for bad in [
        "2026-13-01",
        "2026-1-01",
        "26-11-30",
        "2026-11-30x",
        "unknown",
        "",
    ] {
        assert!(!is_date(bad), "{bad}");
    }
}

#[tokio::test]
async fn manpage_dir_writes_the_page_of_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = blindspot(&["manpage", "--dir", dir.path().to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    for name in [
        "blindspot",
        "blindspot-run",
        "blindspot-check",
        "blindspot-demo",
        "blindspot-config",
        "blindspot-config-example",
        "blindspot-completions",
        "blindspot-manpage",
    ] {
        let path = dir.path().join(format!("{name}.1"));
        let page = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), out.stdout));
        assert!(page.contains(&format!("\n.TH {name} 1 ")), "{page}");
        assert!(
            out.stdout.contains(path.to_str().unwrap()),
            "{}",
            out.stdout
        );
    }
    // No page for clap's `help`, which the SUBCOMMANDS sections leave out.
    assert!(!dir.path().join("blindspot-help.1").exists());
}

/// `blindspot check` on a machine without any AWS credentials: one problem,
/// said once, with where the chain looked and the next steps; the config
/// and credentials exit code, not "incomplete"; no "No findings."; no SDK
/// Debug output.
#[tokio::test]
async fn check_without_credentials_says_so_once_with_the_next_steps() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_blindspot"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        // Nothing listens here: no credentials means nothing is asked of AWS.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["check", "--regions", "us-east-1"]);
    let out = common::run(cmd).await;
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("No findings"), "{}", out.stdout);
    let said = out.stderr.matches("found no AWS credentials").count();
    assert_eq!(said, 1, "{}", out.stderr);
    for looked in [
        "environment variables",
        "profiles",
        "SSO",
        "instance metadata",
    ] {
        assert!(out.stderr.contains(looked), "{}", out.stderr);
    }
    for next in [
        "AWS_PROFILE=",
        "aws sso login",
        "deploy/iam/blindspot-policy.json",
        "blindspot demo",
    ] {
        assert!(out.stderr.contains(next), "{}", out.stderr);
    }
    for debug in ["ProviderError", "FailedToLoadToken", "{", "Attempted:"] {
        assert!(!out.stderr.contains(debug), "`{debug}` in:\n{}", out.stderr);
    }
}

/// Credentials that STS rejects are the same one problem, with STS's code.
#[tokio::test(flavor = "multi_thread")]
async fn check_with_rejected_credentials_says_so_once() {
    let sim = common::sim("[[region]]\nregion = \"us-east-1\"\n").await;
    sim.set_faults(blindspot_sim::Faults {
        access_denied: vec![blindspot_sim::AccessDenied {
            operation: Some("GetCallerIdentity".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    let mut cmd = common::command(&sim.endpoint());
    cmd.args(["check", "--regions", "us-east-1"]);
    let out = common::run(cmd).await;
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.stderr.matches("AWS rejected the credentials").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("AccessDenied"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}
