//! Build script of `kcom`.
//!
//! Without the `driver` feature it only declares the `cfg`s the crate may
//! see, so `unexpected_cfgs` stays quiet. With `driver` it lets `wdk-build`
//! read the workspace's `[package.metadata.wdk.driver-model]` (set by the
//! driver crate) and emit `driver_model__driver_type="KMDF"` (or `"WDM"`),
//! the cfg `wdk-sys` itself is built with, so kcom can check that it is
//! built for a kernel-mode driver model.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CARGO_FEATURE_DRIVER");
    println!(
        r#"cargo::rustc-check-cfg=cfg(driver_model__driver_type, values("WDM", "KMDF", "UMDF"))"#
    );
    #[cfg(feature = "driver")]
    driver::configure();
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
