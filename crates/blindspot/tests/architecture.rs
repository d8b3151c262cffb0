//! The dependency invariants of `docs/architecture.md`, checked by machine:
//! every `crates/*/Cargo.toml` is parsed and each dependency (normal, dev,
//! build, and target-specific) is held against the rules below.
//!
//! - Only `crates/aws-sdk` and the binary (`crates/blindspot`) may depend on
//!   the AWS SDK (`aws-sdk-*`, `aws-config` and the SDK's runtime crates):
//!   the SDK takes minutes to compile, and rules see AWS only through ports.
//! - `crates/core` knows nothing about AWS, SQL or HTTP.
//! - `crates/rules` never reaches the store or the server: rules read other
//!   rules' findings only through `PeerFindings`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// Crates that may link the AWS SDK, by directory under `crates/`.
const SDK_ALLOWED: [&str; 2] = ["aws-sdk", "blindspot"];

/// Whether a package is part of the AWS SDK for Rust.
fn is_aws_sdk(package: &str) -> bool {
    package == "aws-config"
        || package.starts_with("aws-sdk-")
        || package.starts_with("aws-smithy-")
        || package.starts_with("aws-runtime")
        || matches!(package, "aws-types" | "aws-credential-types" | "aws-sigv4")
}

/// What a crate (by directory under `crates/`) must not depend on, and why;
/// `None` when `package` is fine.
fn forbidden(crate_dir: &str, package: &str) -> Option<&'static str> {
    if is_aws_sdk(package) && !SDK_ALLOWED.contains(&crate_dir) {
        return Some("only crates/aws-sdk and the binary link the AWS SDK");
    }
    match crate_dir {
        "core" if package.starts_with("aws-") || package.starts_with("blindspot-aws") => {
            Some("crates/core knows nothing about AWS")
        }
        "core" if package == "rusqlite" => Some("crates/core knows nothing about SQL"),
        "core"
            if matches!(
                package,
                "axum" | "hyper" | "tower" | "tower-http" | "reqwest"
            ) =>
        {
            Some("crates/core knows nothing about HTTP")
        }
        "rules" if matches!(package, "blindspot-store" | "rusqlite") => {
            Some("rules read peers through PeerFindings, never the store")
        }
        "rules" if matches!(package, "blindspot-server" | "axum") => {
            Some("rules know nothing about the HTTP server")
        }
        _ => None,
    }
}

/// Every dependency of a manifest as (table, package name). A renamed
/// dependency (`x = { package = "aws-sdk-s3" }`) counts under its package
/// name, also when the rename is in `[workspace.dependencies]`.
fn dependencies(manifest: &toml::Table, workspace_deps: &toml::Table) -> Vec<(String, String)> {
    const KINDS: [&str; 5] = [
        "dependencies",
        "dev-dependencies",
        "build-dependencies",
        "dev_dependencies",
        "build_dependencies",
    ];
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    for kind in KINDS {
        if let Some(table) = manifest.get(kind).and_then(toml::Value::as_table) {
            tables.push((format!("[{kind}]"), table));
        }
    }
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for (cfg, target) in targets {
            for kind in KINDS {
                if let Some(table) = target.get(kind).and_then(toml::Value::as_table) {
                    tables.push((format!("[target.'{cfg}'.{kind}]"), table));
                }
            }
        }
    }
    let package = |key: &str, spec: &toml::Value| -> String {
        let renamed = |v: Option<&toml::Value>| {
            v.and_then(|v| v.get("package"))
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
        };
        let inherited = spec.get("workspace").and_then(toml::Value::as_bool) == Some(true);
        renamed(Some(spec))
            .or_else(|| {
                inherited
                    .then(|| renamed(workspace_deps.get(key)))
                    .flatten()
            })
            .unwrap_or_else(|| key.to_owned())
    };
    tables
        .into_iter()
        .flat_map(|(section, table)| {
            table
                .iter()
                .map(move |(key, spec)| (section.clone(), package(key, spec)))
        })
        .collect()
}

/// The violations of one manifest, each naming the crate, the dependency, the
/// table it is in and the invariant.
fn violations(crate_dir: &str, manifest: &str, workspace_deps: &toml::Table) -> Vec<String> {
    let manifest: toml::Table = toml::from_str(manifest)
        .unwrap_or_else(|e| panic!("crates/{crate_dir}/Cargo.toml does not parse: {e}"));
    dependencies(&manifest, workspace_deps)
        .into_iter()
        .filter_map(|(section, package)| {
            forbidden(crate_dir, &package)
                .map(|why| format!("crates/{crate_dir} depends on `{package}` in {section}: {why}"))
        })
        .collect()
}

#[test]
fn every_crate_keeps_the_dependency_invariants() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let workspace_deps = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        problems.extend(violations(&name, &manifest, &workspace_deps));
        checked.push(name);
    }
    // A wrong path would check nothing and pass: the crates the rules name
    // must be among those checked.
    for expected in [
        "aws",
        "aws-sdk",
        "blindspot",
        "core",
        "engine",
        "rules",
        "store",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "crates/{expected} was not checked; checked {checked:?}"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[cfg(test)]
mod checker {
    use super::*;

    fn workspace() -> toml::Table {
        toml::from_str(
            r#"
            aws-config = "1"
            blindspot-store = { path = "crates/store" }
            inspector = { package = "aws-sdk-inspector", version = "1" }
            "#,
        )
        .unwrap()
    }

    fn check(crate_dir: &str, manifest: &str) -> Vec<String> {
        violations(crate_dir, manifest, &workspace())
    }

    #[test]
    fn the_sdk_outside_the_adapter_is_named() {
        let found = check("rules", "[dependencies]\naws-config.workspace = true\n");
        assert_eq!(
            found,
            ["crates/rules depends on `aws-config` in [dependencies]: \
              only crates/aws-sdk and the binary link the AWS SDK"]
        );
        // In every kind of table, and under another name.
        let found = check(
            "engine",
            "[dev-dependencies]\naws-sdk-ssm = \"1\"\n\
             [build-dependencies]\nsdk = { package = \"aws-sdk-sts\", version = \"1\" }\n\
             [target.'cfg(unix)'.dependencies]\ninspector = { workspace = true }\n",
        );
        assert_eq!(found.len(), 3, "{found:?}");
        for (dependency, table) in [
            ("aws-sdk-ssm", "[dev-dependencies]"),
            ("aws-sdk-sts", "[build-dependencies]"),
            ("aws-sdk-inspector", "[target.'cfg(unix)'.dependencies]"),
        ] {
            let named = format!("crates/engine depends on `{dependency}` in {table}");
            assert!(
                found.iter().any(|f| f.starts_with(&named)),
                "{named}: {found:?}"
            );
        }
    }

    #[test]
    fn the_adapter_and_the_binary_may_link_the_sdk() {
        let manifest = "[dependencies]\naws-config.workspace = true\naws-sdk-ssm = \"1\"\n";
        assert!(check("aws-sdk", manifest).is_empty());
        assert!(check("blindspot", manifest).is_empty());
    }

    #[test]
    fn core_knows_no_aws_sql_or_http() {
        let found = check(
            "core",
            "[dependencies]\nblindspot-aws.workspace = true\naws-smithy-types = \"1\"\n\
             rusqlite = \"0.32\"\n[dev-dependencies]\naxum = \"0.8\"\nchrono = \"0.4\"\n",
        );
        assert_eq!(found.len(), 4, "{found:?}");
        for dependency in ["blindspot-aws", "aws-smithy-types", "rusqlite", "axum"] {
            assert!(
                found
                    .iter()
                    .any(|f| f.starts_with("crates/core depends on") && f.contains(dependency)),
                "{dependency}: {found:?}"
            );
        }
    }

    #[test]
    fn rules_reach_neither_store_nor_server() {
        let found = check(
            "rules",
            "[dependencies]\nblindspot-aws.workspace = true\n\
             [dev-dependencies]\nblindspot-store.workspace = true\nblindspot-server = { path = \"../server\" }\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found
                .iter()
                .any(|f| f.contains("`blindspot-store` in [dev-dependencies]")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|f| f.contains("`blindspot-server`")),
            "{found:?}"
        );
    }
}

/// The code of a Rust source file that ships: comments and `#[cfg(test)]`
/// modules (which sit at the end of a file, by convention here) removed.
fn shipped_code(source: &str) -> String {
    let end = source.find("#[cfg(test)]").unwrap_or(source.len());
    source[..end]
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rule IDs and module names a shipped line of another crate would use
/// to name a rule.
fn rule_names(line: &str) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "inspector-exclusions",
        "inspector2-associations",
        "inspector2-coverage",
        "inspector2-organization",
        "blindspot_rules::exclusions",
        "blindspot_rules::associations",
        "blindspot_rules::coverage",
        "blindspot_rules::organization",
    ];
    NAMES.iter().copied().find(|name| line.contains(name))
}

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "html") {
            out.push(path);
        }
    }
}

/// Everything about a rule lives in `crates/rules`: a new rule touches its own
/// folder, one registration line, the example config and the docs. The
/// shipped code of every other crate names no rule (tests may, to drive one).
#[test]
fn no_crate_but_rules_names_a_rule() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for name in [
        "blindspot",
        "core",
        "engine",
        "server",
        "store",
        "aws",
        "aws-sdk",
    ] {
        rs_files(&crates.join(name).join("src"), &mut files);
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut named = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for line in shipped_code(&source).lines() {
            if let Some(name) = rule_names(line) {
                named.push(format!("{}: `{name}` in `{}`", file.display(), line.trim()));
            }
        }
    }
    assert!(
        named.is_empty(),
        "rules named outside crates/rules:\n{}",
        named.join("\n")
    );
}

#[test]
fn the_rule_name_check_sees_code_but_not_comments_or_tests() {
    let source = "/// e.g. `inspector-exclusions`\nlet id = \"inspector2-coverage\";\n#[cfg(test)]\nmod tests { \"inspector2-associations\" }";
    let code = shipped_code(source);
    let found: Vec<_> = code.lines().filter_map(rule_names).collect();
    assert_eq!(found, ["inspector2-coverage"]);
}
