//! The device backend: the installed `kcom_sample.sys`, reached through
//! `DeviceIoControl` on Windows (`Device`, built only there).
//!
//! What the backend tells a user when the device cannot be used is worked
//! out in [`diagnosis`], from facts the Windows calls return; it builds on
//! every platform, so its wording is tested everywhere.

pub mod diagnosis;
#[cfg(windows)]
mod win32;

#[cfg(windows)]
pub use self::win32::Device;
