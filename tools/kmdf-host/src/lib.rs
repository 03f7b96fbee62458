//! `kmdf-host` runs a compiled KMDF driver image (the `.sys` built for
//! `x86_64-pc-windows-msvc`) inside a Linux x86_64 process, against a
//! simulated kernel and KMDF, with KMDF Verifier and Driver Verifier style
//! checks. The crate's `README.md` describes the command line, the report,
//! the WDF functions the host implements, and what a run proves and what
//! it cannot. This library is the same host, step by step, for tests:
//! [`Host::load`], [`Host::driver_entry`], [`Host::add_device`],
//! [`Host::device_io_control`], [`Host::remove_device`], [`Host::unload`].
//!
//! What a run finds is in the [`Report`] that [`Host::unload`] returns:
//! every [`Violation`] (its [`Rule`], what happened, where in the driver)
//! and every pool block left. KMDF's refusals are in
//! [`Host::framework_log`], the driver's `DbgPrint` output in
//! [`Host::debug_log`]. A run that cannot go on (a bug check, a fault in
//! driver code, a `WDF_VIOLATION`, a WDF function the host does not
//! implement, a hang) stops as the machine would: the report, with the
//! driver's call stack unwound from the image's `.pdata`, goes to standard
//! error and the process exits with [`STOP_EXIT_CODE`]. Run an image you
//! expect to stop in a child process (the `kmdf-host` binary does that for
//! a test).
//!
//! On targets other than x86_64 Linux the crate builds, and
//! [`Host::load`] returns [`Error::Unsupported`].
//!
//! ```no_run
//! # fn main() -> Result<(), kmdf_host::Error> {
//! use kmdf_host::{Host, Options};
//! // SAFETY: the image is the project's own driver, which keeps the
//! // contracts of the routines it calls (see `Host::load`).
//! let (host, device) = unsafe { Host::start("kcom_sample.sys", Options::default()) }?;
//! let reply = host.device_io_control(device, 0x8C0E_6000, &[1, 0, 0, 0, 8, 0, 0, 0], 4096)?;
//! println!("status 0x{:08X}, {} bytes", reply.status as u32, reply.information);
//! let report = host.unload();
//! assert!(report.is_clean(), "{report}");
//! # Ok(())
//! # }
//! ```

mod api;
mod error;
mod options;
mod report;

pub use api::{
    Access, BindSummary, Completion, Device, DevicePower, DeviceSettings, ImageLayout,
    PowerTransition, QueueInfo, STOP_EXIT_CODE,
};
pub use error::{Error, NtStatus};
pub use options::{
    DebugOutput, FaultInjection, FrameworkVersion, Options, TagFilter, parse_tag, tag_text,
};
pub use report::{Origin, Outstanding, PoolKind, Report, Rule, TagStats, Violation};

/// Whether this build can run driver images (x86_64 Linux).
pub const SUPPORTED: bool = cfg!(all(target_os = "linux", target_arch = "x86_64"));

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod linux;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use linux::Host;

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod unsupported;
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub use unsupported::Host;
