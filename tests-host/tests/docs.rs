//! `TESTING.md` names test files and states counts; both must be the
//! tree's. Every repository path it names in backquotes exists, and each
//! count it states equals the number of things it counts.
//!
//! Not under Miri: it reads the tree, which Miri's isolation forbids, and
//! runs no unsafe code.

#![cfg(not(miri))]

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests-host sits in the workspace")
        .to_path_buf()
}

fn testing_md() -> String {
    fs::read_to_string(root().join("TESTING.md")).expect("TESTING.md at the workspace root")
}

/// The text of every `` `...` `` span in `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A code span that names a file or folder of the repository: a relative
/// path with a folder part and no spaces, globs or placeholders.
fn is_repository_path(span: &str) -> bool {
    span.contains('/')
        && !span.contains(|c: char| c.is_whitespace() || "<>*~$=".contains(c))
        && !span.starts_with('/')
        && span
            .split('/')
            .next()
            .is_some_and(|first| root().join(first).exists())
}

/// The names in `dir` ending in `suffix`, without `exclude_suffix` ones.
fn count_files(dir: &str, suffix: &str, exclude_suffix: &str) -> usize {
    fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .into_string()
                .expect("UTF-8")
        })
        .filter(|n| n.ends_with(suffix) && !n.ends_with(exclude_suffix))
        .count()
}

#[test]
fn every_path_testing_md_names_exists() {
    let text = testing_md();
    let paths: Vec<&str> = code_spans(&text)
        .into_iter()
        .filter(|s| is_repository_path(s))
        .collect();
    assert!(
        paths.len() > 20,
        "TESTING.md names its test files: {paths:?}"
    );
    let missing: Vec<&&str> = paths.iter().filter(|p| !root().join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "TESTING.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn the_counts_in_testing_md_are_the_trees() {
    let text = testing_md();
    let fuzz_targets = count_files("fuzz/fuzz_targets", ".rs", "\0");
    let expansion_cases = count_files("kcom-macros/tests/expand", ".rs", ".expanded.rs");
    for stated in [
        format!("The {fuzz_targets} fuzz targets are in `fuzz/fuzz_targets/`"),
        format!("the {expansion_cases} expansion cases"),
    ] {
        assert!(text.contains(&stated), "TESTING.md should say: {stated}");
    }
}
