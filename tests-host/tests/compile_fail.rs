//! Misuse of the COM macros is rejected at compile time with readable
//! errors (the expected messages are in `tests/ui/*.stderr`).
//!
//! The expected output is tied to the toolchain (the one `rust-toolchain.toml` names); after a
//! compiler upgrade regenerate it with `TRYBUILD=overwrite cargo test -p
//! tests-host --test compile_fail` and review the diff.

#[test]
#[cfg_attr(miri, ignore = "runs rustc")]
fn macro_misuse_is_rejected() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
