//! `kcomctl`: the user-mode client of the kcom sample driver.
//!
//! Layers, top to bottom:
//!
//! * [`cli`]: the command line (`list`, `run`, `stats`, `--json`), argument
//!   validation and output;
//! * [`client`]: typed requests and replies over the
//!   [`kcom_sample_core::protocol`] encodings;
//! * [`transport`]: "send these IOCTL bytes, get bytes or an `NTSTATUS`",
//!   implemented by [`loopback::Loopback`] (the driver's core in this
//!   process, over kcom's simulated kernel pool), on Windows by
//!   `device::Device` (the installed driver, via `DeviceIoControl`; what it
//!   says when Windows refuses it is [`device::diagnosis`]), and on
//!   x86_64 Linux by `image::Image` (the compiled driver image under
//!   `kmdf-host`).
//!
//! Everything above the transport is the same for every backend.

pub mod cli;
pub mod client;
pub mod device;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod image;
pub mod loopback;
pub mod transport;

pub use crate::client::{Client, ClientError, DeviceInfo, ErrorKind, OfferedStrategy};
pub use crate::loopback::Loopback;
pub use crate::transport::{Closing, Status, Transport, TransportError};
