//! Builds the fixture driver images of `tools/kmdf-host/fixtures` for tests.
//!
//! Include it from a test with `#[path = "support/fixtures.rs"] mod fixtures;`
//! (it needs nothing but `std`), then:
//!
//! ```ignore
//! let fixtures = fixtures::build_all()?;
//! let image = fixtures.path("leak");             // .../leak.exe, a KMDF driver image
//! assert_eq!(fixtures::expect::LEAK_TAG, u32::from_le_bytes(*b"FxLk"));
//! ```
//!
//! `build_all` runs `cargo build --release` for the fixtures project once per
//! process (later calls reuse the result; cargo itself makes concurrent test
//! processes wait for one another), with its own target directory,
//! `target/kmdf-fixtures` in the repository root. It needs the
//! `x86_64-pc-windows-msvc` target of the active toolchain and the
//! `rust-lld` that rustup ships; nothing else (no WDK, MinGW or clang).

#![allow(dead_code)]

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What each fixture does that a test can check: IOCTL codes, pool tags,
/// sizes, bug check values, addresses. The fixture drivers are built from
/// this very file, so the values cannot drift apart.
#[path = "../../fixtures/src/expect.rs"]
pub mod expect;

/// The target the fixture images are built for.
pub const TARGET: &str = "x86_64-pc-windows-msvc";

/// The built fixture images.
#[derive(Debug, Clone)]
pub struct Fixtures {
    dir: PathBuf,
}

impl Fixtures {
    /// The directory holding the images and their PDBs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The image of fixture `name` (one of [`expect::NAMES`]): a PE32+ KMDF
    /// driver with the `.exe` extension cargo gives it. Its PDB, which the
    /// image names in its debug directory, is [`Fixtures::pdb`].
    ///
    /// # Panics
    ///
    /// If `name` is not a fixture.
    pub fn path(&self, name: &str) -> PathBuf {
        assert!(
            expect::NAMES.contains(&name),
            "no fixture named {name:?}; the fixtures are {:?}",
            expect::NAMES
        );
        self.dir.join(format!("{name}.exe"))
    }

    /// The PDB of fixture `name` (rustc names it after the crate, so `-`
    /// becomes `_`): next to the image, as the image's debug directory says.
    ///
    /// # Panics
    ///
    /// If `name` is not a fixture.
    pub fn pdb(&self, name: &str) -> PathBuf {
        assert!(
            expect::NAMES.contains(&name),
            "no fixture named {name:?}; the fixtures are {:?}",
            expect::NAMES
        );
        self.dir.join(format!("{}.pdb", name.replace('-', "_")))
    }
}

/// Builds every fixture image (once per process) and returns where they are.
///
/// Errors: the fixtures project or the repository root cannot be found, the
/// `x86_64-pc-windows-msvc` target is not installed (the message gives the
/// `rustup` command), cargo fails (its output is in the message), or an
/// image or PDB is missing afterwards.
pub fn build_all() -> io::Result<Fixtures> {
    static BUILT: OnceLock<Result<Fixtures, String>> = OnceLock::new();
    BUILT.get_or_init(build).clone().map_err(io::Error::other)
}

/// The repository root: the nearest ancestor of the including crate that
/// holds `tools/kmdf-host/fixtures/Cargo.toml`.
fn repository_root() -> Result<PathBuf, String> {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .find(|dir| dir.join("tools/kmdf-host/fixtures/Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "no tools/kmdf-host/fixtures/Cargo.toml above {}",
                start.display()
            )
        })
}

/// The `rustup` command that installs the target for the toolchain in use.
fn install_hint() -> String {
    match std::env::var("RUSTUP_TOOLCHAIN") {
        Ok(toolchain) if !toolchain.is_empty() => {
            format!("rustup target add {TARGET} --toolchain {toolchain}")
        }
        _ => format!("rustup target add {TARGET}"),
    }
}

/// Whether the toolchain that cargo will use in `project` has the target's
/// standard library; `None` if rustc cannot say.
fn target_installed(project: &Path) -> Option<bool> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .current_dir(project)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let sysroot = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    Some(
        sysroot
            .join("lib/rustlib")
            .join(TARGET)
            .join("lib")
            .is_dir(),
    )
}

fn build() -> Result<Fixtures, String> {
    let root = repository_root()?;
    let project = root.join("tools/kmdf-host/fixtures");
    let target_dir = root.join("target/kmdf-fixtures");
    if target_installed(&project) == Some(false) {
        return Err(format!(
            "building the kmdf-host fixture drivers needs the {TARGET} target: run `{}`",
            install_hint()
        ));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // The project's .cargo/config.toml (target, rust-lld) applies because
    // cargo runs in its directory; settings of the enclosing build (a
    // sanitizer's RUSTFLAGS, another target or target directory) must not.
    command
        .current_dir(&project)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_RUSTFLAGS")
        .env_remove("CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let output = command
        .output()
        .map_err(|e| format!("cannot run cargo to build the fixture drivers: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("target may not be installed") {
            format!("\nthe {TARGET} target is missing: run `{}`", install_hint())
        } else if stderr.contains("linker `rust-lld` not found") {
            "\nrust-lld is missing: use a rustup toolchain, which ships it".to_string()
        } else {
            String::new()
        };
        return Err(format!(
            "cargo build of the kmdf-host fixture drivers ({}) failed with {}:\n{stderr}{hint}",
            project.display(),
            output.status
        ));
    }
    let fixtures = Fixtures {
        dir: target_dir.join(TARGET).join("release"),
    };
    for name in expect::NAMES {
        for file in [fixtures.path(name), fixtures.pdb(name)] {
            if !file.is_file() {
                return Err(format!("fixture {name}: {} was not built", file.display()));
            }
        }
    }
    Ok(fixtures)
}
