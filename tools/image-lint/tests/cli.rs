//! The `image-lint` binary: its exit codes and what it prints.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Spec;

/// Writes `bytes` to a file of this test's own in the temporary folder.
fn image_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("image-lint-{}-{name}.sys", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(image: &PathBuf) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_image-lint"))
        .arg(image)
        .output()
        .unwrap();
    std::fs::remove_file(image).unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_good_image_exits_0_and_prints_its_imports() {
    let (code, stdout, _) = run(&image_file("good", &Spec::driver().build()));
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("ntoskrnl.exe: ExAllocatePool2, ExFreePoolWithTag"),
        "{stdout}"
    );
    assert!(
        stdout.contains("WdfLdr.sys: WdfVersionBind, WdfVersionUnbind"),
        "{stdout}"
    );
    assert!(stdout.ends_with("image-lint: ok\n"), "{stdout}");
}

#[test]
fn a_broken_rule_exits_1_with_one_fail_line_each() {
    let mut spec = Spec::driver();
    spec.imports.push(("KERNEL32.dll", vec!["Sleep"]));
    spec.relocations = false;
    let (code, stdout, _) = run(&image_file("bad", &spec.build()));
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("FAIL: ")).count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL: imports from KERNEL32.dll (Sleep)"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("image-lint: 2 rule(s) broken\n"),
        "{stdout}"
    );
}

#[test]
fn an_unreadable_image_exits_2() {
    let (code, stdout, stderr) = run(&image_file("junk", b"not a PE image"));
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert!(stderr.starts_with("image-lint: "), "{stderr}");
}
