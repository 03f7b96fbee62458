//! Every saved input of the `fuzz_image` fuzz target (its seeds and the
//! findings kept as `regression-*`, in fuzz/corpus/fuzz_image) replayed
//! through the driver image under kmdf-host by the target's own program
//! (fuzz/src/image.rs, compiled in here): each must run clean, and so must
//! the unload after them. The program's own tests (that its checks catch
//! the completions they must) run here too, without the image.
//!
//! The replays need the image: `KCOM_SAMPLE_IMAGE` names it (`ci/kmdf-host.sh` sets it
//! and runs these with `--include-ignored`).

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

#[allow(dead_code)]
#[path = "../../../fuzz/src/input.rs"]
mod input;

#[allow(dead_code)]
#[path = "../../../fuzz/src/image.rs"]
mod image;

use std::path::{Path, PathBuf};

fn inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fuzz_image");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn every_saved_input_of_fuzz_image_runs_clean() {
    let setup = image::Setup::from_env().unwrap_or_else(|e| panic!("{e}"));
    let mut driver = image::Driver::new(setup);
    let files = inputs();
    assert!(files.len() >= 10, "only {} inputs", files.len());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        if let Err(finding) = driver.run(&data) {
            panic!("{name}: {finding}");
        }
    }
    if let Err(finding) = driver.unload() {
        panic!("after the inputs: {finding}");
    }
}
