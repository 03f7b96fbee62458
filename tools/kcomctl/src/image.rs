//! The image backend (x86_64 Linux): the compiled driver image
//! (`kcom_sample.sys`, built by `bash ci/driver-image.sh`) loaded into this
//! process by [`kmdf_host`], which plays the I/O manager, PnP manager and
//! KMDF around it with Verifier-style checks.
//!
//! [`Image::open`] loads the image, runs `DriverEntry` and AddDevice;
//! [`Transport::ioctl`] sends `METHOD_BUFFERED` IOCTLs that reach the
//! driver's `EvtIoDeviceControl` in its own machine code; closing the
//! transport removes the device, unloads the driver and hands back the
//! host's report (violations, pool blocks left at unload).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kcom_sample_core::protocol::{IOCTL_KCOM_RUN_EXERCISE, RunRequest, StrategyId};
use kmdf_host::{Device, FaultInjection, Host, Options, Report, TagFilter, tag_text};

use crate::transport::{Closing, Transport, TransportError};

/// The driver image under kmdf-host, with one device added.
#[derive(Debug)]
pub struct Image {
    host: Host,
    device: Device,
    path: PathBuf,
    /// Faults not armed yet: (strategy, pool tag, n).
    faults: Mutex<Vec<(StrategyId, u32, u64)>>,
}

/// Why the image could not be brought up to a started device.
#[derive(Debug)]
pub struct OpenError {
    /// What failed, in one line.
    pub message: String,
    /// The host's report, when driver code ran (the driver unloaded).
    pub report: Option<Box<Report>>,
}

impl Image {
    /// Loads the image at `path`, runs `DriverEntry` and adds one device,
    /// as PnP does for a root-enumerated device.
    ///
    /// Errors: the image does not load (not a driver image, unresolved
    /// imports: nothing ran), or `DriverEntry` or AddDevice failed (the
    /// driver was unloaded; the report says what the host saw).
    ///
    /// # Safety
    ///
    /// As for [`Host::load`]: the image's code runs in this process with
    /// access to all of its memory, so it must be trusted to keep the
    /// contracts of the routines it calls and is called as (the project's
    /// own driver image is).
    pub unsafe fn open(path: &Path, options: Options) -> Result<Image, OpenError> {
        // SAFETY: the caller vouches for the image (this function's
        // contract is `Host::load`'s).
        let host = unsafe { Host::load(path, options) };
        let mut host = host.map_err(|e| OpenError {
            message: format!("{}: {e}", path.display()),
            report: None,
        })?;
        let device = match host.driver_entry().and_then(|()| host.add_device()) {
            Ok(device) => device,
            Err(e) => {
                return Err(OpenError {
                    message: e.to_string(),
                    report: Some(Box::new(host.unload())),
                });
            }
        };
        Ok(Image {
            host,
            device,
            path: path.to_owned(),
            faults: Mutex::new(Vec::new()),
        })
    }

    /// Makes the `n`th pool allocation (`n >= 1`) tagged `tag` fail,
    /// counted from the next `RUN_EXERCISE` of `strategy`: Driver
    /// Verifier's low-resources simulation aimed at one exercise by its
    /// pool tag. (Armed with the request rather than now, because a tag
    /// need not be the exercise's alone: KMDF tags the driver's framework
    /// objects with the first four letters of the service name, `kcom`,
    /// which is also the tag of the driver's global allocator.)
    pub fn inject_fault(&self, strategy: StrategyId, tag: u32, n: u64) {
        self.faults.lock().unwrap().push((strategy, tag, n));
    }

    /// Arms the faults waiting for this request, if it runs an exercise.
    fn arm_faults(&self, code: u32, input: &[u8]) {
        if code != IOCTL_KCOM_RUN_EXERCISE {
            return;
        }
        let Ok(request) = RunRequest::decode(input) else {
            return;
        };
        self.faults.lock().unwrap().retain(|&(strategy, tag, n)| {
            if request.strategy != strategy.as_u32() {
                return true;
            }
            self.host.inject(FaultInjection::Nth {
                filter: TagFilter::Tag(tag),
                n,
            });
            false
        });
    }

    /// The host, for checks beyond the protocol.
    pub fn host(&self) -> &Host {
        &self.host
    }
}

/// Renders the host's report of a finished session.
pub fn render_report(report: &Report) -> String {
    let mut out = String::from("kmdf-host report (device removed, driver unloaded):\n");
    for line in report.to_string().lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    let mut tags: Vec<String> = report
        .tags
        .iter()
        .filter(|t| t.injected_failures > 0)
        .map(|t| format!("'{}' x{}", tag_text(t.tag), t.injected_failures))
        .collect();
    if !tags.is_empty() {
        tags.sort();
        out.push_str(&format!("  injected failures: {}\n", tags.join(", ")));
    }
    out
}

impl Transport for Image {
    fn ioctl(&self, code: u32, input: &[u8], output: &mut [u8]) -> Result<usize, TransportError> {
        self.arm_faults(code, input);
        let completion = self
            .host
            .device_io_control(self.device, code, input, output.len())
            .map_err(|e| TransportError::Backend(format!("kmdf-host: {e}")))?;
        // Errors and warnings (the top bit of an NTSTATUS) fail the call,
        // as DeviceIoControl does.
        if completion.status < 0 {
            return Err(TransportError::Status(completion.status));
        }
        // The I/O manager copied `min(Information, output length)` bytes.
        let n = completion.output.len().min(output.len());
        output[..n].copy_from_slice(&completion.output[..n]);
        Ok(n)
    }

    fn describe(&self) -> String {
        let framework = self
            .host
            .bind_summary()
            .map_or_else(String::new, |b| format!(", KMDF {}", b.framework));
        format!(
            "image {} under kmdf-host (simulated kernel and framework{framework})",
            self.path.display()
        )
    }

    fn close(self: Box<Self>) -> Option<Closing> {
        let Image { host, device, .. } = *self;
        let removal = host.remove_device(device);
        let report = host.unload();
        let mut text = String::new();
        if let Err(e) = &removal {
            text.push_str(&format!("kmdf-host: the device's removal failed: {e}\n"));
        }
        text.push_str(&render_report(&report));
        Some(Closing {
            clean: removal.is_ok() && report.is_clean(),
            report: text,
        })
    }
}
