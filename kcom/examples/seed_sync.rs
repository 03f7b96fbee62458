//! kcom's hand-written synchronous example, verbatim as kcom's API
//! specification shows it.
//!
//! Run it with `cargo run -p kcom --example seed_sync`.
//!
//! The code (in `seed/sync.rs`, the one copy, which
//! `tests-host/tests/com_seed.rs` includes too) is the specification's,
//! character for character, so its one `unsafe` block carries no `// SAFETY:` comment;
//! the argument is: `raw` is the primary interface pointer of a live object
//! made by `Foo::new_com`, so its first word is a pointer to `Foo`'s static
//! `IFooVtbl`; `ping` is called with that pointer, and `shim_release` gives
//! up the one reference `new_com` returned, after which `raw` is not used
//! again.
#![allow(clippy::undocumented_unsafe_blocks)]

include!("seed/sync.rs");
