//! The `kcomctl` binary on the loopback backend, as users and scripts run it.

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

/// Runs `kcomctl` with `args`, expects exit code 0 and parses stdout as JSON.
fn json(args: &[&str]) -> Value {
    let out = kcomctl().args(args).assert().success().get_output().clone();
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// The strategy names the loopback device offers (GET_INFO).
fn offered() -> Vec<String> {
    json(&["--loopback", "--json", "list"])
        .as_array()
        .expect("list --json is an array")
        .iter()
        .map(|s| s["strategy"].as_str().expect("name").to_owned())
        .collect()
}

#[test]
fn list_shows_the_offered_strategies_with_descriptions() {
    let list = json(&["--loopback", "--json", "list"]);
    let list = list.as_array().unwrap();
    assert!(!list.is_empty());
    for s in list {
        let name = s["strategy"].as_str().unwrap();
        let id = StrategyId::from_name(name).expect("a known strategy");
        assert_eq!(s["id"].as_u64(), Some(u64::from(id.as_u32())));
        assert!(!s["description"].as_str().unwrap().is_empty(), "{s}");
        assert!(s["pool"].is_string() && s["tag_text"].is_string());
        assert!(s["passive_only"].is_boolean());
    }
    assert!(list.iter().any(|s| s["strategy"] == "global"));

    let names = offered();
    let mut assert = kcomctl().args(["--loopback", "list"]).assert().success();
    for name in &names {
        assert = assert.stdout(predicate::str::contains(name.as_str()));
    }
    assert.stdout(predicate::str::contains("limits: iterations <= 1000000"));
}

#[test]
fn run_all_succeeds_and_lists_every_offered_strategy() {
    let names = offered();
    let out = kcomctl()
        .args(["--loopback", "run", "all", "--iterations", "200"])
        .assert()
        .success()
        // Not a terminal: no progress indicator, nothing on stderr.
        .stderr("")
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    for name in &names {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name} in\n{stdout}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        // strategy, result, allocations, frees, bytes, peak, outstanding, time/op
        assert_eq!(cells[1], "ok", "{row}");
        assert_eq!(cells[6], "0", "{row}");
    }
    assert!(stdout.contains(&format!(
        "{} succeeded, nothing outstanding",
        if names.len() == 1 {
            "1 exercise".to_owned()
        } else {
            format!("{} exercises", names.len())
        }
    )));
}

#[test]
fn run_all_covers_every_strategy_of_the_protocol() {
    let names = offered();
    for s in StrategyId::ALL {
        assert!(
            names.iter().any(|n| n == s.name()),
            "{} not offered",
            s.name()
        );
    }
    let runs = json(&["--loopback", "--json", "run", "all", "--iterations", "64"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), StrategyId::ALL.len());
    assert!(runs.iter().all(|r| r["ok"] == true), "{runs:?}");
}

#[test]
fn json_run_has_every_field_for_every_strategy() {
    let names = offered();
    let runs = json(&[
        "--loopback",
        "--json",
        "run",
        "all",
        "--iterations",
        "50",
        "--min-size",
        "8",
        "--max-size",
        "512",
        "--seed",
        "42",
    ]);
    let runs = runs.as_array().expect("one array");
    assert_eq!(runs.len(), names.len());
    for (r, name) in runs.iter().zip(&names) {
        assert_eq!(r["strategy"].as_str(), Some(name.as_str()));
        assert_eq!(r["ok"], Value::Bool(true), "{r}");
        assert_eq!(r["ntstatus"].as_i64(), Some(0));
        assert_eq!(r["status"], "STATUS_SUCCESS");
        for field in [
            "allocations",
            "frees",
            "bytes",
            "peak_bytes",
            "outstanding",
            "nanos",
        ] {
            assert!(r[field].is_u64(), "{field} in {r}");
        }
        // init-box also runs a deliberately failing initialiser every 8th
        // iteration, whose block is allocated and freed too.
        // async-com allocates each block and the job that hands it to a
        // worker thread.
        let allocations = match name.as_str() {
            "init-box" => 50 + 50 / 8,
            "async-com" => 2 * 50,
            _ => 50,
        };
        assert_eq!(r["allocations"].as_u64(), Some(allocations), "{r}");
        assert_eq!(r["frees"].as_u64(), Some(allocations), "{r}");
        assert_eq!(r["outstanding"].as_u64(), Some(0));
        let bytes = r["bytes"].as_u64().unwrap();
        assert!((50 * 8..=allocations * 512).contains(&bytes), "{r}");
        assert!(r["peak_bytes"].as_u64().unwrap() <= bytes);
        assert!(r["error"].is_null());
    }
    // The same seed gives the same checksums; another seed other ones.
    let again = json(&[
        "--loopback",
        "--json",
        "run",
        "global",
        "--iterations",
        "50",
        "--min-size",
        "8",
        "--max-size",
        "512",
        "--seed",
        "42",
    ]);
    let global = runs.iter().find(|r| r["strategy"] == "global").unwrap();
    assert_eq!(again[0]["checksum"], global["checksum"]);
    let other = json(&["--loopback", "--json", "run", "global", "--seed", "43"]);
    assert_ne!(other[0]["checksum"], global["checksum"]);
}

#[test]
fn json_stats_list_the_pool_accounting() {
    let stats = json(&["--loopback", "--json", "stats"]);
    let stats = stats.as_array().expect("an array");
    assert!(!stats.is_empty());
    for e in stats {
        for field in [
            "pool_type",
            "tag",
            "allocations",
            "frees",
            "outstanding_allocations",
            "outstanding_bytes",
            "peak_bytes",
        ] {
            assert!(e[field].is_u64(), "{field} in {e}");
        }
        assert!(e["pool"].is_string() && e["tag_text"].is_string());
        // A fresh device holds its registry's COM objects (one per strategy,
        // all 12 in the loopback, tag KcSm) and nothing else.
        let live = if e["tag_text"] == "KcSm" { 12 } else { 0 };
        assert_eq!(e["outstanding_allocations"].as_u64(), Some(live), "{e}");
    }
    assert!(stats.iter().any(|e| e["pool"] == "host heap"));
    kcomctl()
        .args(["--loopback", "stats"])
        .assert()
        .success()
        .stdout(predicate::str::contains("outstanding bytes"));
}

/// Each class of bad input: exit code 2, one line on stderr that names the
/// valid values, nothing on stdout.
#[test]
fn bad_input_is_rejected_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "nope"],
            "unknown strategy 'nope'; valid: global, wdk-nonpaged, wdk-paged, wdk-aligned, bump, \
             pool, free-list, stack, kbox, init-box, com-object, async-com, all",
        ),
        (
            &["run", "global", "--iterations", "0"],
            "--iterations must be in 1..=1000000, got 0",
        ),
        (
            &["run", "global", "--iterations", "1000001"],
            "--iterations must be in 1..=1000000, got 1000001",
        ),
        (
            &["run", "all", "--min-size", "64", "--max-size", "32"],
            "--min-size (64) must not be larger than --max-size (32)",
        ),
        (
            &["run", "global", "--min-size", "0"],
            "--min-size must be in 1..=1048576, got 0",
        ),
        (
            &["run", "global", "--max-size", "2000000"],
            "--max-size must be in 1..=1048576, got 2000000",
        ),
        (
            &["run", "global", "--align", "24"],
            "--align must be 0 (default, 8) or a power of two up to 4096, got 24",
        ),
        (
            &[
                "run",
                "global",
                "--iterations",
                "1000",
                "--max-size",
                "1048576",
            ],
            "must be at most 268435456 bytes (256 MiB), got 1048576000",
        ),
        (&["run", "all", "global"], "give it alone"),
        (
            &["run", "global", "--inject-fault", "bump"],
            "--inject-fault expects STRATEGY:N with N >= 1",
        ),
        (
            &["run", "global", "--inject-fault", "global:1"],
            "cannot target 'global'",
        ),
        (
            &["run", "global", "--inject-fault", "bogus:1"],
            "unknown strategy 'bogus' in --inject-fault; valid: global, wdk-nonpaged",
        ),
    ];
    for (args, message) in cases {
        let out = kcomctl()
            .arg("--loopback")
            .args(*args)
            .assert()
            .code(2)
            .stdout("")
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("kcomctl: "), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // The fault plan from the environment is checked the same way.
    kcomctl()
        .env("KCOMCTL_INJECT_FAULT", "bump:0")
        .args(["--loopback", "run", "global"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("N >= 1"));
    // Not a number at all: clap's own message, still exit code 2.
    kcomctl()
        .args(["--loopback", "run", "global", "--iterations", "many"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--iterations"));
}

#[test]
fn a_strategy_the_driver_does_not_offer_is_refused_before_running() {
    let names = offered();
    let Some(missing) = StrategyId::ALL
        .into_iter()
        .find(|s| !names.iter().any(|n| n == s.name()))
    else {
        // Every strategy is offered: covered by the unit test of `resolve`.
        return;
    };
    kcomctl()
        .args(["--loopback", "run", "global", missing.name()])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "strategy '{}' is not offered by this driver; offered: ",
            missing.name()
        )));
}

#[cfg(not(windows))]
#[test]
fn the_device_backend_is_refused_off_windows() {
    kcomctl()
        .args(["--device", "list"])
        .assert()
        .code(2)
        .stderr("kcomctl: the device backend exists only on Windows; use --loopback\n");
    // Without a flag the loopback is the default here.
    kcomctl().arg("list").assert().success();
}

#[test]
fn help_lists_the_commands_and_hides_the_fault_flag() {
    kcomctl()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("list"))
        .stdout(predicate::str::contains("run"))
        .stdout(predicate::str::contains("stats"))
        .stdout(predicate::str::contains("--loopback"))
        .stdout(predicate::str::contains("inject").not());
}

/// The pool refuses the first allocation of `wdk-nonpaged`'s exercise: the
/// run fails with `STATUS_INSUFFICIENT_RESOURCES`, the exit code is not 0,
/// and the other strategies still run.
#[test]
fn an_injected_pool_failure_fails_the_run_with_its_ntstatus() {
    kcomctl()
        .args([
            "--loopback",
            "run",
            "wdk-nonpaged",
            "--inject-fault",
            "wdk-nonpaged:1",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "STATUS_INSUFFICIENT_RESOURCES (0xC000009A)",
        ))
        .stdout(predicate::str::contains("1 of 1 exercise failed"));

    // The same through the environment, as JSON, within `run all`.
    let out = kcomctl()
        .env("KCOMCTL_INJECT_FAULT", "wdk-nonpaged:1")
        .args(["--loopback", "--json", "run", "all", "--iterations", "64"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    let failed: Vec<&Value> = runs.iter().filter(|r| r["ok"] == false).collect();
    assert_eq!(failed.len(), 1, "{runs:?}");
    let f = failed[0];
    assert_eq!(f["strategy"], "wdk-nonpaged");
    assert_eq!(f["ntstatus"].as_i64(), Some(0xC000_009Au32 as i32 as i64));
    assert_eq!(f["status"], "STATUS_INSUFFICIENT_RESOURCES");
    assert!(f["allocations"].is_null() && f["outstanding"].is_null());
    assert!(
        runs.iter()
            .filter(|r| r["strategy"] != "wdk-nonpaged")
            .all(|r| r["ok"] == true)
    );

    // A later allocation fails too (the exercise frees what it had).
    kcomctl()
        .args([
            "--loopback",
            "run",
            "wdk-nonpaged",
            "--iterations",
            "100",
            "--inject-fault",
            "wdk-nonpaged:50",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("STATUS_INSUFFICIENT_RESOURCES"));
}
