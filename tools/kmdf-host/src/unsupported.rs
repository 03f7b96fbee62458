//! The API on hosts that cannot run a driver image: every entry point
//! returns [`Error::Unsupported`].

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, NtStatus};
use crate::options::{FaultInjection, FrameworkVersion, Options};
use crate::report::{Report, Violation};

/// The exit code of a stopped run.
pub const STOP_EXIT_CODE: i32 = 3;

/// A device (never created here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Device {
    /// 1 for the first device added.
    pub index: usize,
}

/// The access a handle was opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// `FILE_READ_DATA`.
    pub read: bool,
    /// `FILE_WRITE_DATA`.
    pub write: bool,
}

impl Access {
    /// Read and write.
    pub const READ_WRITE: Access = Access {
        read: true,
        write: true,
    };
}

/// How a request was completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The completion status.
    pub status: NtStatus,
    /// The `Information`.
    pub information: usize,
    /// The bytes copied back.
    pub output: Vec<u8>,
}

/// A queue's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueInfo {
    /// The default queue.
    pub default: bool,
    /// Power-managed.
    pub power_managed: bool,
    /// Dispatch type.
    pub dispatch_type: i32,
    /// Presentation limit.
    pub presented_limit: u32,
}

/// A power transition's effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PowerTransition {
    /// Power-managed queues.
    pub power_managed_queues: usize,
    /// Requests waited for.
    pub waited_for: usize,
    /// Time waited.
    pub waited: Duration,
}

/// Device power states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicePower {
    /// Working.
    D0,
    /// Off.
    D3,
}

/// The bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindSummary {
    /// The framework presented.
    pub framework: FrameworkVersion,
    /// The client's minor version.
    pub client_minor: u32,
    /// Its minimum.
    pub minimum_minor: Option<u32>,
    /// Client newer than the framework.
    pub client_newer: bool,
    /// Function count.
    pub function_count: u32,
}

/// The host; it cannot be created on this target.
#[derive(Debug)]
pub struct Host {
    _never: std::convert::Infallible,
}

impl Host {
    /// Always [`Error::Unsupported`] here.
    pub fn load(_path: impl AsRef<Path>, _options: Options) -> Result<Host, Error> {
        Err(Error::Unsupported)
    }
    /// Always [`Error::Unsupported`] here.
    pub fn start(_path: impl AsRef<Path>, _options: Options) -> Result<(Host, Device), Error> {
        Err(Error::Unsupported)
    }
    /// Unreachable: no host exists.
    pub fn driver_entry(&mut self) -> Result<(), Error> {
        match self._never {}
    }
    /// Unreachable: no host exists.
    pub fn add_device(&self) -> Result<Device, Error> {
        match self._never {}
    }
    /// Unreachable: no host exists.
    pub fn remove_device(&self, _device: Device) -> Result<(), Error> {
        match self._never {}
    }
    /// Unreachable: no host exists.
    pub fn device_io_control(
        &self,
        _device: Device,
        _code: u32,
        _input: &[u8],
        _output_len: usize,
    ) -> Result<Completion, Error> {
        match self._never {}
    }
    /// Unreachable: no host exists.
    pub fn inject(&self, _rule: FaultInjection) {
        match self._never {}
    }
    /// Unreachable: no host exists.
    pub fn violations(&self) -> Vec<Violation> {
        match self._never {}
    }
    /// Unreachable: no host exists.
    pub fn unload(self) -> Report {
        match self._never {}
    }
}
