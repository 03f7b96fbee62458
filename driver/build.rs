//! Build script of the KMDF driver.
//!
//! * Target not Windows: nothing (the crate is an empty shell there).
//! * Target Windows, host Windows (the real build, `cargo make package`):
//!   `wdk_build::configure_wdk_binary_build()`, which finds the WDK and emits
//!   the KMDF linker settings.
//! * Target Windows, host not Windows: wdk-build does not compile on such a
//!   host, and Cargo selects build dependencies by the host platform, so it
//!   is not available here. This case exists only for the link check against
//!   a substitute WDK (`WDKContentRoot` must point at it); the script then
//!   emits the same KMDF linker settings as wdk-build 0.6 does itself. It is
//!   a compile/link check, never a way to produce a loadable driver.

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=WDKContentRoot");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    if let Err(message) = configure() {
        println!("cargo::error={message}");
    }
}

#[cfg(windows)]
fn configure() -> Result<(), String> {
    wdk_build::configure_wdk_binary_build().map_err(|e| format!("wdk-build: {e}"))
}

#[cfg(not(windows))]
fn configure() -> Result<(), String> {
    cross::configure()
}

#[cfg(not(windows))]
mod cross {
    use std::env;
    use std::path::{Path, PathBuf};

    /// KMDF version; must match `[package.metadata.wdk.driver-model]`.
    const KMDF_VERSION: &str = "1.33";

    /// The linker settings wdk-build 0.6 emits for a KMDF driver binary.
    const KMDF_LINK_ARGS: &[&str] = &[
        "/DRIVER",
        "/NODEFAULTLIB",
        "/SUBSYSTEM:NATIVE",
        "/KERNEL",
        "/ENTRY:FxDriverEntry",
        "/IGNORE:4257",
        "/NXCOMPAT",
        "/DYNAMICBASE",
        "/MAP",
        "/MAPINFO:EXPORTS",
        "/OPT:REF,ICF",
        "/INTEGRITYCHECK",
        "/MANIFEST:NO",
    ];

    pub fn configure() -> Result<(), String> {
        let Ok(root) = env::var("WDKContentRoot") else {
            return Err(
                "building kcom-sample for Windows needs the WDK: on Windows run \
                        `cargo make package`; on other hosts only the substitute-WDK link \
                        check is supported (set WDKContentRoot)"
                    .into(),
            );
        };
        let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
        if !features.split(',').any(|f| f == "crt-static") {
            return Err("the driver must be built with -C target-feature=+crt-static".into());
        }
        let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
            Ok("x86_64") => "x64",
            Ok("aarch64") => "arm64",
            other => return Err(format!("unsupported driver architecture {other:?}")),
        };
        let lib = Path::new(&root).join("Lib");
        let sdk = newest_sdk(&lib).ok_or_else(|| format!("no Lib/10.* directory under {root}"))?;
        for dir in [
            lib.join("wdf/kmdf").join(arch).join(KMDF_VERSION),
            sdk.join("km").join(arch),
        ] {
            if !dir.is_dir() {
                return Err(format!("missing WDK library directory {}", dir.display()));
            }
            println!("cargo::rustc-link-search={}", dir.display());
        }
        for arg in KMDF_LINK_ARGS {
            println!("cargo::rustc-cdylib-link-arg={arg}");
        }
        Ok(())
    }

    /// The `Lib/10.x.y.z` directory with the highest version.
    fn newest_sdk(lib: &Path) -> Option<PathBuf> {
        let version = |p: &Path| -> Option<Vec<u32>> {
            let name = p.file_name()?.to_str()?;
            if !name.starts_with("10.") {
                return None;
            }
            name.split('.').map(|n| n.parse().ok()).collect()
        };
        std::fs::read_dir(lib)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| version(&p).map(|v| (v, p)))
            .max()
            .map(|(_, p)| p)
    }
}
