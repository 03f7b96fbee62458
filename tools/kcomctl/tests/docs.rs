//! The `kcomctl` transcripts in the project's Markdown are what `kcomctl`
//! prints: every ```` ```console ```` block of these files is run with this
//! build's `kcomctl` and its output compared with the block (trycmd; `[..]`
//! in a block stands for the timings, `...` for lines left out).
//!
//! `TRYCMD=overwrite cargo test -p kcomctl --test docs` rewrites the blocks
//! from the current output, for review.

#[test]
fn the_documented_transcripts_are_what_kcomctl_prints() {
    trycmd::TestCases::new()
        .case("README.md")
        .case("../../README.md");
}
