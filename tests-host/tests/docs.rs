//! `TESTING.md` names test files and states counts; both must be the
//! tree's. Every repository path it names in backquotes exists, and each
//! count it states equals the number of things it counts. Every relative
//! link of every Markdown file of the repository leads to a file.
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

/// Every Markdown file of the repository (outside `target/` and hidden
/// folders).
fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            markdown_files(&path, found);
        } else if name.ends_with(".md") {
            found.push(path);
        }
    }
}

/// The targets of the inline links `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut files = Vec::new();
    markdown_files(&root(), &mut files);
    assert!(files.len() >= 5, "found the Markdown files: {files:?}");
    let mut broken = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("UTF-8 Markdown");
        for target in link_targets(&text) {
            let path = target.split('#').next().unwrap_or("");
            // A target with spaces is code that looks like a link
            // (`f(x)](a, b)`), not a link.
            if path.is_empty()
                || path.contains(char::is_whitespace)
                || path.contains("://")
                || path.starts_with("mailto:")
            {
                continue;
            }
            let dir = file.parent().expect("a file in a folder");
            if !dir.join(path).exists() {
                broken.push(format!("{}: {target}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}
