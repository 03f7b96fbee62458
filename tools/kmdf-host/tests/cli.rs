//! The `kmdf-host` command line as a user meets it. Every ```` ```console ````
//! block of `README.md` and of `tests/cli/*.trycmd` is run with this build's
//! `kmdf-host`, from the repository root, and its output compared with the
//! block (trycmd; `[..]` in a block stands for part of a line, `...` for
//! lines left out). The README's runs of fixture drivers use the images
//! `tests/support/fixtures.rs` builds.
//!
//! The README's ```` ```console,ignore ```` blocks run this project's driver
//! image: the ignored test runs them, with `KCOM_SAMPLE_IMAGE` naming the
//! debug image (`bash ci/kmdf-host.sh` does that).
//!
//! `TRYCMD=overwrite cargo test -p kmdf-host --test cli` rewrites the
//! blocks run without the image from the current output, for review.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// The repository root, made the current directory: the README's commands
/// are written as run from there.
fn enter_repository_root() -> PathBuf {
    let root = Path::new(CRATE)
        .join("../..")
        .canonicalize()
        .expect("the repository root");
    std::env::set_current_dir(&root).expect("cd to the repository root");
    root
}

#[test]
fn the_command_line_prints_what_its_transcripts_show() {
    let root = enter_repository_root();
    let fixtures = fixtures::build_all()
        .expect("the fixture drivers build (see tools/kmdf-host/fixtures/README.md)");
    assert_eq!(
        fixtures.dir().canonicalize().unwrap(),
        root.join("target/kmdf-fixtures/x86_64-pc-windows-msvc/release"),
        "the README's fixture paths are where the fixtures are built"
    );
    trycmd::TestCases::new()
        .case(format!("{CRATE}/README.md"))
        .case(format!("{CRATE}/tests/cli/*.trycmd"));
}

/// The README's `console,ignore` blocks, as blocks trycmd runs.
fn image_blocks(readme: &str) -> String {
    let mut blocks = String::new();
    let mut inside = false;
    for line in readme.lines() {
        if line == "```console,ignore" {
            inside = true;
            blocks.push_str("```console\n");
        } else if inside {
            blocks.push_str(line);
            blocks.push('\n');
            inside = line != "```";
        }
    }
    blocks
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn the_readme_runs_of_the_driver_image_are_what_kmdf_host_prints() {
    let root = enter_repository_root();
    let documented = root.join("target/driver-image/debug/kcom_sample.sys");
    let image = std::env::var_os("KCOM_SAMPLE_IMAGE").expect(
        "KCOM_SAMPLE_IMAGE names the debug driver image: \
         KCOM_SAMPLE_IMAGE=$(bash ci/driver-image.sh | tail -1), or run bash ci/kmdf-host.sh",
    );
    assert_eq!(
        Path::new(&image).canonicalize().ok(),
        documented.canonicalize().ok(),
        "the README runs {}",
        documented.display()
    );
    let readme = std::fs::read_to_string(format!("{CRATE}/README.md")).unwrap();
    let blocks = image_blocks(&readme);
    assert!(
        blocks.contains("$ kmdf-host "),
        "no image blocks in the README"
    );
    let dir = TempDir(root.join(format!("target/kmdf-host-readme-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let case = dir.0.join("image.md");
    std::fs::write(&case, blocks).unwrap();
    trycmd::TestCases::new().case(&case).run();
}

/// A folder removed when the test ends, passed or failed.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
