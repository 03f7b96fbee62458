//! Errors of the host API.

use std::fmt;
use std::path::PathBuf;

/// `NTSTATUS` as the host API carries it.
pub type NtStatus = i32;

/// Why a host operation did not happen.
#[derive(Debug)]
pub enum Error {
    /// kmdf-host runs driver images only on x86_64 Linux.
    Unsupported,
    /// The image file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a loadable x64 driver image.
    BadImage(String),
    /// Imports no host module provides, all of them (`module!name`).
    UnresolvedImports(Vec<String>),
    /// Mapping the image or the host's own memory failed.
    Map(String),
    /// `DriverEntry` returned a failure status.
    DriverEntryFailed(NtStatus),
    /// The driver never called `WdfDriverCreate`, or registered no
    /// `EvtDriverDeviceAdd`.
    NotAPnpDriver(String),
    /// `EvtDriverDeviceAdd` returned a failure status (the device does not
    /// start: PnP shows problem code 31).
    AddDeviceFailed(NtStatus),
    /// The operation does not fit the session's state (no such device,
    /// driver already unloaded, ...).
    State(String),
    /// The request cannot be sent the way it was asked (unsupported transfer
    /// method, ...).
    Request(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported => f.write_str(
                "kmdf-host runs driver images only on x86_64 Linux (the image is native x86_64 code run in this process)",
            ),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::BadImage(m) => write!(f, "not a loadable x64 driver image: {m}"),
            Error::UnresolvedImports(list) => write!(
                f,
                "{} unresolved import(s), the image would not load: {}",
                list.len(),
                list.join(", ")
            ),
            Error::Map(m) => write!(f, "mapping failed: {m}"),
            Error::DriverEntryFailed(s) => write!(f, "DriverEntry failed with 0x{:08X}", *s as u32),
            Error::NotAPnpDriver(m) => write!(f, "{m}"),
            Error::AddDeviceFailed(s) => write!(
                f,
                "EvtDriverDeviceAdd failed with 0x{:08X}: the device would not start (problem code 31)",
                *s as u32
            ),
            Error::State(m) => write!(f, "{m}"),
            Error::Request(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
