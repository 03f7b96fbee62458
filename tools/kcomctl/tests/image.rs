//! `kcomctl --image`: the compiled driver image under kmdf-host, as users
//! and scripts run it.
//!
//! The image comes from a script, not from cargo: set `KCOM_SAMPLE_IMAGE`
//! to the path `bash ci/driver-image.sh` prints. Tests that need it are
//! ignored by a plain `cargo test` (with the reason); `ci/kmdf-host.sh` runs
//! them with `--include-ignored`, and without a usable image they fail.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::path::PathBuf;

use assert_cmd::Command;
use kcom_sample_core::protocol::StrategyId;
use predicates::prelude::*;
use serde_json::Value;

/// `kcomctl` with a clean environment for the fault plan.
fn kcomctl() -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("kcomctl");
    cmd.env_remove("KCOMCTL_INJECT_FAULT");
    cmd
}

/// The image under test; panics (the test fails) without one.
fn image() -> String {
    let path = std::env::var_os("KCOM_SAMPLE_IMAGE")
        .map(PathBuf::from)
        .expect(
            "KCOM_SAMPLE_IMAGE must name the driver image: \
         KCOM_SAMPLE_IMAGE=$(bash ci/driver-image.sh | tail -1), or run bash ci/kmdf-host.sh",
        );
    assert!(
        path.is_file(),
        "KCOM_SAMPLE_IMAGE={} is not a file",
        path.display()
    );
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// `kcomctl --image IMAGE ARGS...`.
fn with_image(args: &[&str]) -> Command {
    let mut cmd = kcomctl();
    cmd.arg("--image").arg(image()).args(args);
    cmd
}

/// The host's closing report in `text`: every line says the run was clean.
fn assert_clean_report(text: &str) {
    assert!(
        text.contains("kmdf-host report (device removed, driver unloaded):"),
        "{text}"
    );
    assert!(text.contains(" 0 blocks outstanding"), "{text}");
    assert!(text.contains("violations: none"), "{text}");
}

/// The row of `strategy` in a `run` table, split into cells.
fn row<'a>(stdout: &'a str, strategy: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(strategy))
        .unwrap_or_else(|| panic!("no row for {strategy} in\n{stdout}"))
        .split_whitespace()
        .collect()
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn run_all_through_the_image_succeeds_with_nothing_outstanding() {
    let out = with_image(&["run", "all"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("image "), "{stdout}");
    assert!(stdout.contains("under kmdf-host"), "{stdout}");
    for s in StrategyId::ALL {
        let cells = row(&stdout, s.name());
        // strategy, result, allocations, frees, bytes, peak, outstanding, time/op
        assert_eq!(cells[1], "ok", "{cells:?}");
        assert_eq!(cells[2], cells[3], "allocations == frees: {cells:?}");
        assert_eq!(cells[6], "0", "{cells:?}");
    }
    assert!(stdout.contains("12 exercises succeeded, nothing outstanding"));
    assert_clean_report(&stdout);
}

/// The compiled driver and the loopback (the same core in this process)
/// report the same run, field for field, except the time it took.
#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn the_image_and_the_loopback_agree_on_every_run() {
    let args = ["--json", "run", "all", "--iterations", "50", "--seed", "42"];
    let parse = |out: std::process::Output| -> Vec<Value> {
        let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        v.as_array().expect("an array").clone()
    };
    let image_out = with_image(&args).assert().success().get_output().clone();
    // Under --json the host's report goes to stderr.
    assert_clean_report(&String::from_utf8_lossy(&image_out.stderr));
    let image_runs = parse(image_out);
    let loopback_runs = parse(
        kcomctl()
            .arg("--loopback")
            .args(args)
            .assert()
            .success()
            .get_output()
            .clone(),
    );
    assert_eq!(image_runs.len(), StrategyId::ALL.len());
    assert_eq!(image_runs.len(), loopback_runs.len());
    for (mut image_run, mut loopback_run) in image_runs.into_iter().zip(loopback_runs) {
        for run in [&mut image_run, &mut loopback_run] {
            let nanos = run.as_object_mut().unwrap().remove("nanos");
            assert!(nanos.is_some_and(|n| n.is_u64()), "{run}");
            run.as_object_mut().unwrap().remove("time_per_op_ns");
        }
        assert_eq!(image_run, loopback_run);
    }
}

/// `--inject-fault` fails the chosen exercise's allocation by its pool tag
/// (the image's `global` included: its memory is the driver's pool); the
/// run reports the status, the host's report shows the injected failure
/// and nothing left, and the exit code is 1.
#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn an_injected_pool_failure_fails_that_exercise_and_leaves_nothing() {
    for (strategy, n, tag) in [
        ("wdk-nonpaged", "1", "KcNp"),
        ("wdk-nonpaged", "60", "KcNp"),
        ("async-com", "3", "KcAs"),
        ("init-box", "2", "KcIb"),
        // The driver's global allocator tags its memory 'kcom'; KMDF's own
        // objects (the request among them) carry the driver's pool tag
        // 'KcFx', so #1 is the exercise's first block.
        ("global", "1", "kcom"),
        ("global", "2", "kcom"),
    ] {
        let fault = format!("{strategy}:{n}");
        let out = with_image(&["run", strategy, "bump", "--iterations", "100"])
            .args(["--inject-fault", &fault])
            .assert()
            .code(1)
            .get_output()
            .clone();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let cells = row(&stdout, strategy);
        assert_eq!(
            cells[1], "STATUS_INSUFFICIENT_RESOURCES",
            "{fault}: {stdout}"
        );
        assert_eq!(row(&stdout, "bump")[1], "ok", "{fault}: {stdout}");
        assert!(stdout.contains("1 of 2 exercises failed"), "{stdout}");
        assert_clean_report(&stdout);
        assert!(stdout.contains("1 failed by injection"), "{stdout}");
        assert!(
            stdout.contains(&format!("injected failures: '{tag}' x1")),
            "{fault}: {stdout}"
        );
    }
    // Through the environment, as for the loopback.
    with_image(&["run", "bump", "--iterations", "10"])
        .env("KCOMCTL_INJECT_FAULT", "bump:1")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("STATUS_INSUFFICIENT_RESOURCES"));
}

#[test]
#[ignore = "needs KCOM_SAMPLE_IMAGE (bash ci/kmdf-host.sh)"]
fn list_and_stats_through_the_image() {
    let out = with_image(&["--json", "list"])
        .assert()
        .success()
        .get_output()
        .clone();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["strategy"].as_str().unwrap())
        .collect();
    let all: Vec<&str> = StrategyId::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names, all);
    assert_clean_report(&String::from_utf8_lossy(&out.stderr));

    let out = with_image(&["stats"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("12 pool entries"), "{stdout}");
    assert_clean_report(&stdout);
}

/// Not an image: a clear error, exit code 1, no report (no driver code ran).
#[test]
fn a_file_that_is_not_a_driver_image_is_refused() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    kcomctl()
        .args(["--image", manifest, "list"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "kcomctl: the image backend could not start the device: ",
        ))
        .stderr(predicate::str::contains("not a loadable x64 driver image"));
    kcomctl()
        .args(["--image", "/nonexistent/kcom_sample.sys", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent/kcom_sample.sys"));
    // One backend at a time.
    kcomctl()
        .args(["--image", manifest, "--loopback", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}
