//! The plain data the host API exchanges: devices, requests, queues,
//! power transitions, the bind. The same on every target.

use std::time::Duration;

use crate::error::NtStatus;
use crate::options::FrameworkVersion;

/// The exit code of a run that stopped (a bug check, a fault, a WDF
/// violation, an unsupported WDF function): the machine would have stopped.
pub const STOP_EXIT_CODE: i32 = 3;

/// A device the driver created in `EvtDriverDeviceAdd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Device {
    /// The `WDFDEVICE` handle (only the host dereferences it).
    #[cfg_attr(
        not(all(target_os = "linux", target_arch = "x86_64")),
        allow(dead_code)
    )]
    pub(crate) handle: usize,
    /// 1 for the first device added, 2 for the second, ...
    pub index: usize,
}

/// The access a handle to the device was opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// `FILE_READ_DATA`.
    pub read: bool,
    /// `FILE_WRITE_DATA`.
    pub write: bool,
}

impl Access {
    /// `GENERIC_READ | GENERIC_WRITE`, as kcomctl opens the device.
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
    /// The `Information` the driver reported.
    pub information: usize,
    /// What the I/O manager copied back to the caller's output buffer.
    pub output: Vec<u8>,
}

/// A queue as the framework configured it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueInfo {
    /// The device's default queue.
    pub default: bool,
    /// Stopped when the device leaves D0.
    pub power_managed: bool,
    /// `WDF_IO_QUEUE_DISPATCH_TYPE` (1 sequential, 2 parallel, 3 manual).
    pub dispatch_type: i32,
    /// `NumberOfPresentedRequests` (`u32::MAX`: unlimited).
    pub presented_limit: u32,
}

/// What a device power transition did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PowerTransition {
    /// Power-managed queues that were stopped (or started).
    pub power_managed_queues: usize,
    /// Requests the transition waited for.
    pub waited_for: usize,
    /// How long it waited.
    pub waited: Duration,
}

/// How the driver bound to the framework.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindSummary {
    /// The framework version presented.
    pub framework: FrameworkVersion,
    /// The KMDF minor version the driver was built for.
    pub client_minor: u32,
    /// The minimum minor version it requires (`WDF_BIND_INFO2`), if given.
    pub minimum_minor: Option<u32>,
    /// Whether the driver is newer than the framework (it then uses the
    /// framework's structure sizes).
    pub client_newer: bool,
    /// The function count the driver asked for.
    pub function_count: u32,
    /// The driver's `WdfFunctionCount` after binding (`WDF_BIND_INFO2`).
    /// The framework writes it only for a client newer than itself
    /// (`wdffuncenum.h`: "only valid when WdfClientVersionHigherThanFramework
    /// is TRUE"), so it is what the stub started it at otherwise.
    pub client_function_count: Option<u32>,
}

/// Where the image was mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLayout {
    /// The address the image was mapped at.
    pub base: usize,
    /// The base the image was linked for (`OptionalHeader.ImageBase`).
    pub preferred_base: usize,
    /// `SizeOfImage`.
    pub size: usize,
    /// Base relocations applied (0 at the preferred base).
    pub relocations: usize,
}

/// Device power states the host models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevicePower {
    /// Working.
    D0,
    /// Off (system sleep).
    D3,
}

/// What the driver set on a device's `WDFDEVICE_INIT` before
/// `WdfDeviceCreate` consumed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSettings {
    /// `WdfDeviceInitSetDeviceType` (0: not set, the framework's
    /// `FILE_DEVICE_UNKNOWN`).
    pub device_type: u32,
    /// `WdfDeviceInitSetCharacteristics` (with `FILE_DEVICE_SECURE_OPEN`,
    /// which KMDF always adds).
    pub characteristics: u32,
    /// `WdfDeviceInitSetIoType` (`WDF_DEVICE_IO_TYPE`; 0: not set).
    pub io_type: i32,
    /// `WdfDeviceInitAssignSDDLString`.
    pub sddl: Option<String>,
    /// `WdfDeviceInitAssignName`.
    pub name: Option<String>,
}
