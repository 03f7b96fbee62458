//! The `kmdf-host` command line as a user meets it: `--help`, and the one
//! line and exit code of each usage error. Every ```` ```console ```` block
//! of `tests/cli/*.trycmd` is run with this build's `kmdf-host` and its
//! output compared with the block (trycmd).
//!
//! `TRYCMD=overwrite cargo test -p kmdf-host --test cli` rewrites the blocks
//! from the current output, for review.

#[test]
fn the_command_line_prints_what_its_transcripts_show() {
    trycmd::TestCases::new().case("tests/cli/*.trycmd");
}
