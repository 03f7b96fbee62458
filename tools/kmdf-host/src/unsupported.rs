//! The host on targets that cannot run a driver image (anything but x86_64
//! Linux): [`Host::load`] and [`Host::start`] return
//! [`Error::Unsupported`], so no `Host` value ever exists and every other
//! method is unreachable. The API is the same as on x86_64 Linux, so code
//! using it builds everywhere.

use std::path::Path;

use crate::api::{
    Access, BindSummary, Completion, Device, DevicePower, DeviceSettings, ImageLayout,
    PowerTransition, QueueInfo,
};
use crate::error::Error;
use crate::options::{FaultInjection, Options};
use crate::report::{Report, Violation};

/// The host; it cannot be created on this target.
#[derive(Debug)]
pub struct Host {
    never: std::convert::Infallible,
}

impl Host {
    /// Always [`Error::Unsupported`] here.
    ///
    /// # Safety
    ///
    /// None here; on x86_64 Linux the image runs in this process, see the
    /// contract there.
    pub unsafe fn load(_path: impl AsRef<Path>, _options: Options) -> Result<Host, Error> {
        Err(Error::Unsupported)
    }

    /// Always [`Error::Unsupported`] here.
    ///
    /// # Safety
    ///
    /// As for [`Host::load`].
    pub unsafe fn start(
        _path: impl AsRef<Path>,
        _options: Options,
    ) -> Result<(Host, Device), Error> {
        Err(Error::Unsupported)
    }

    /// Unreachable: no host exists on this target.
    pub fn driver_entry(&mut self) -> Result<(), Error> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn add_device(&self) -> Result<Device, Error> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn devices(&self) -> Vec<Device> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn queues(&self, _device: Device) -> Result<Vec<QueueInfo>, Error> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn device_settings(&self, _device: Device) -> Result<DeviceSettings, Error> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn interfaces(&self, _device: Device) -> Vec<String> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn device_io_control(
        &self,
        _device: Device,
        _code: u32,
        _input: &[u8],
        _output_len: usize,
    ) -> Result<Completion, Error> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn device_io_control_with_access(
        &self,
        _device: Device,
        _access: Access,
        _code: u32,
        _input: &[u8],
        _output_len: usize,
    ) -> Result<Completion, Error> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn set_power(
        &self,
        _device: Device,
        _state: DevicePower,
    ) -> Result<PowerTransition, Error> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn remove_device(&self, _device: Device) -> Result<(), Error> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn unload(self) -> Report {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn report_now(&self) -> Report {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn violations(&self) -> Vec<Violation> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn inject(&self, _rule: FaultInjection) {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn clear_injection(&self) {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn pool_allocations(&self) -> u64 {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn outstanding_blocks(&self) -> usize {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn framework_log(&self) -> Vec<String> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn debug_log(&self) -> Vec<String> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn bind_summary(&self) -> Option<BindSummary> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn imports(&self) -> Vec<String> {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn image_layout(&self) -> ImageLayout {
        match self.never {}
    }

    /// Unreachable: no host exists on this target.
    pub fn image_summary(&self) -> String {
        match self.never {}
    }
}
