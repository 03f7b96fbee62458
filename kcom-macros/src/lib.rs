//! Procedural macros for `kcom`. Use them through `kcom`'s re-exports.
