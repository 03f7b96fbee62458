//! Build script of `kcom`.
//!
//! Without the `driver` feature it only declares the `cfg`s the crate may
//! see, so `unexpected_cfgs` stays quiet. With `driver` it lets `wdk-build`
//! read the workspace's `[package.metadata.wdk.driver-model]` (set by the
//! driver crate) and emit `driver_model__driver_type="KMDF"` (or `"WDM"`),
//! the cfg `wdk-sys` itself is built with, so kcom can check that it is
//! built for a kernel-mode driver model.
//!
//! It also copies the code of the README's async example into `OUT_DIR`,
//! where the `declare_com_interface_async` example includes it: the
//! README (the crate's documentation, whose examples run as doctests) is
//! the one copy of that code.

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CARGO_FEATURE_DRIVER");
    println!(
        r#"cargo::rustc-check-cfg=cfg(driver_model__driver_type, values("WDM", "KMDF", "UMDF"))"#
    );
    #[cfg(feature = "driver")]
    driver::configure();
    write_async_example();
}

/// Writes the first `rust` code block of the README's "Async methods"
/// section to `OUT_DIR/async_methods.rs`.
fn write_async_example() {
    println!("cargo::rerun-if-changed=README.md");
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let readme = Path::new(&manifest_dir).join("README.md");
    let text = std::fs::read_to_string(&readme)
        .unwrap_or_else(|e| panic!("kcom: cannot read {}: {e}", readme.display()));
    let code = text
        .split_once("\n## Async methods\n")
        .and_then(|(_, section)| section.split_once("```rust\n"))
        .and_then(|(_, block)| block.split_once("\n```\n"))
        .map(|(code, _)| code)
        .expect("kcom: README.md has a \"## Async methods\" section with a ```rust block");
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out_dir).join("async_methods.rs");
    std::fs::write(&out, format!("{code}\n"))
        .unwrap_or_else(|e| panic!("kcom: cannot write {}: {e}", out.display()));
}

#[cfg(feature = "driver")]
mod driver {
    pub(super) fn configure() {
        // Emits `cargo::rustc-cfg=driver_model__driver_type="…"` from the
        // workspace metadata, and the matching check-cfg declarations.
        if let Err(e) = wdk_build::configure_wdk_library_build() {
            panic!("kcom: wdk-build could not read the WDK driver configuration: {e}");
        }
    }
}
