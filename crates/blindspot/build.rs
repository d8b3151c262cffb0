//! Build information for `blindspot --version` and `blindspot_build_info`:
//!
//! - `BLINDSPOT_GIT_COMMIT`: the commit built, 12 hex digits, or `unknown`
//!   when the source is not a git checkout (a tarball) or git is missing or
//!   refuses; such a build must still work.
//! - `BLINDSPOT_BUILD_DATE`: the UTC date (`YYYY-MM-DD`) of the build, or of
//!   `SOURCE_DATE_EPOCH` when it is set, so that reproducible builds give the
//!   same bytes.
//!
//! The script reruns only when HEAD or the branch it points at moves, or
//! `SOURCE_DATE_EPOCH` changes: an incremental build does not rebuild the
//! binary every time. The date is therefore the day of the last build that
//! saw a new commit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = match find_git_dir(&manifest_dir) {
        Some((worktree, git_dir)) => {
            watch_head(&git_dir);
            head_commit(&worktree).unwrap_or_else(|| "unknown".to_owned())
        }
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=BLINDSPOT_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=BLINDSPOT_BUILD_DATE={}", build_date());
}

/// The work tree and git directory holding `dir`: the nearest ancestor with
/// a `.git` directory, or a `.git` file (`gitdir: <path>`, a linked work tree
/// or a submodule).
fn find_git_dir(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    for ancestor in dir.ancestors() {
        let dot_git = ancestor.join(".git");
        if dot_git.is_dir() {
            return Some((ancestor.to_owned(), dot_git));
        }
        if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text.strip_prefix("gitdir:")?.trim();
            return Some((ancestor.to_owned(), ancestor.join(target)));
        }
    }
    None
}

/// Asks cargo to rerun this script when HEAD changes (a checkout) or the
/// branch it names moves (a commit). Only existing paths are named: cargo
/// reruns a script every time for a path that does not exist.
fn watch_head(git_dir: &Path) {
    let head = git_dir.join("HEAD");
    if !head.is_file() {
        return;
    }
    rerun_if_changed(&head);
    let Ok(text) = std::fs::read_to_string(&head) else {
        return;
    };
    // A detached HEAD holds the commit itself; watching HEAD is enough.
    let Some(reference) = text.strip_prefix("ref:").map(str::trim) else {
        return;
    };
    // A linked work tree keeps its branches in the main repository's
    // directory, named by `commondir`.
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(relative) => git_dir.join(relative.trim()),
        Err(_) => git_dir.to_owned(),
    };
    let loose = common.join(reference);
    if loose.is_file() {
        rerun_if_changed(&loose);
    } else if let Some(parent) = loose.parent().filter(|p| p.is_dir()) {
        // A packed branch gets a loose file again when it moves.
        rerun_if_changed(parent);
    }
    let packed = common.join("packed-refs");
    if packed.is_file() {
        rerun_if_changed(&packed);
    }
}

fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}

/// `git rev-parse --short=12 HEAD`, or `None` when git is missing, fails, or
/// answers anything but hex.
fn head_commit(worktree: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(worktree)
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !commit.is_empty() && commit.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(commit)
}

/// The UTC date of `SOURCE_DATE_EPOCH` if set, else of now.
fn build_date() -> String {
    let seconds = match std::env::var("SOURCE_DATE_EPOCH") {
        // The reproducible-builds specification: a malformed value fails the
        // build rather than silently giving a different date.
        Ok(text) => text
            .trim()
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("SOURCE_DATE_EPOCH={text:?} is not a number of seconds")),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`), so the build script needs no date crate.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
