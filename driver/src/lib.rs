//! `kcom_sample.sys`: the KMDF glue of the kcom sample driver.
//!
//! Everything the driver *does* lives in `kcom-sample-core` (protocol,
//! dispatcher, exercise registry); this crate only connects it to KMDF:
//! `DriverEntry`, the device (device interface, context
//! holding the core's `DeviceState`), the default I/O queue and the
//! completion of each request.
//!
//! Off Windows the crate compiles to an empty library so that the workspace
//! builds and tests on any host.
#![cfg_attr(windows, no_std)]

#[cfg(windows)]
mod driver;
