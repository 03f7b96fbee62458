//! The README's example of async methods, run as a program:
//!
//! `cargo run -p kcom --example declare_com_interface_async --features async-com`
//! (`--features async-impl` adds the `#[kcom::async_impl]` form).
//!
//! The code is the README's "Async methods" block, copied out of README.md
//! by the build script, so the README stays its one copy.

include!(concat!(env!("OUT_DIR"), "/async_methods.rs"));
