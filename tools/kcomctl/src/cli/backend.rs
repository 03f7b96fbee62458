//! The backends: which one the flags choose, and the one place that opens a
//! transport for it.
//!
//! Adding a backend means one variant of [`Backend`], its flag in
//! [`super::args::Cli`], one arm in [`choose_backend`] and one in [`open`];
//! everything above the transport (plan, commands, rendering) stays as is.

use std::path::PathBuf;

use kcom_sample_core::protocol::StrategyId;

use super::Failure;
use super::args::{Cli, INJECT_FAULT_ENV};
use crate::loopback::Loopback;
use crate::transport::{Status, Transport};

/// The backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `kcom-sample-core` in this process.
    Loopback,
    /// The installed driver (Windows).
    Device,
    /// The driver image at this path under kmdf-host (x86_64 Linux).
    Image(PathBuf),
}

impl Backend {
    /// Whether the backend can make pool allocations fail
    /// (`--inject-fault`).
    pub fn injects_faults(&self) -> bool {
        match self {
            Backend::Loopback | Backend::Image(_) => true,
            Backend::Device => false,
        }
    }
}

/// Whether this build has the device backend.
pub const HAS_DEVICE_BACKEND: bool = cfg!(windows);

/// Whether this build has the image backend (kmdf-host runs the image's
/// native x86_64 code in this process, on Linux).
pub const HAS_IMAGE_BACKEND: bool = cfg!(all(target_os = "linux", target_arch = "x86_64"));

/// The backend the flags ask for, checked against the fault plan.
pub fn choose_backend(cli: &Cli, faults: &[(StrategyId, u64)]) -> Result<Backend, Failure> {
    let backend = if let Some(path) = &cli.image {
        Backend::Image(path.clone())
    } else if cli.loopback {
        Backend::Loopback
    } else if cli.device || HAS_DEVICE_BACKEND {
        Backend::Device
    } else {
        Backend::Loopback
    };
    match backend {
        Backend::Device if !HAS_DEVICE_BACKEND => return Err(device_missing()),
        Backend::Image(_) if !HAS_IMAGE_BACKEND => return Err(image_unsupported()),
        _ => {}
    }
    if !faults.is_empty() && !backend.injects_faults() {
        return Err(Failure::usage(format!(
            "--inject-fault ({INJECT_FAULT_ENV}) works only with --loopback or --image"
        )));
    }
    if backend == Backend::Loopback && faults.iter().any(|(s, _)| *s == StrategyId::Global) {
        return Err(Failure::usage(
            "--inject-fault cannot target 'global' with the loopback: it allocates from the \
             host heap, not the simulated pool (under --image it is the driver's pool)",
        ));
    }
    Ok(backend)
}

/// Opens the transport of `backend`, with the fault plan applied (only
/// backends that [inject faults](Backend::injects_faults) get one).
pub fn open(
    backend: &Backend,
    faults: &[(StrategyId, u64)],
) -> Result<Box<dyn Transport>, Failure> {
    match backend {
        Backend::Loopback => {
            let loopback = Loopback::new().map_err(|s| {
                Failure::failed(format!("cannot build the loopback device: {}", Status(s)))
            })?;
            for &(strategy, n) in faults {
                loopback.inject_fault(strategy, n).map_err(Failure::usage)?;
            }
            Ok(Box::new(loopback))
        }
        Backend::Device => open_device(),
        Backend::Image(path) => open_image(path, faults),
    }
}

#[cfg(windows)]
fn open_device() -> Result<Box<dyn Transport>, Failure> {
    let device = crate::device::Device::open().map_err(|e| Failure::failed(e.to_string()))?;
    Ok(Box::new(device))
}

#[cfg(not(windows))]
fn open_device() -> Result<Box<dyn Transport>, Failure> {
    Err(device_missing())
}

fn device_missing() -> Failure {
    Failure::usage("the device backend exists only on Windows; use --loopback")
}

fn image_unsupported() -> Failure {
    Failure::usage(
        "the image backend is unsupported on this platform: kmdf-host runs the driver image's \
         native x86_64 code in this process, on x86_64 Linux only; use --loopback",
    )
}

/// Loads the image, starts its device and aims the fault plan at each
/// strategy's pool tag as the driver reports it (`GET_INFO`).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn open_image(
    path: &std::path::Path,
    faults: &[(StrategyId, u64)],
) -> Result<Box<dyn Transport>, Failure> {
    use crate::client::Client;
    use crate::image::{Image, render_report};

    // SAFETY: the user named this image to run in this process; --image's
    // documentation says it runs with the process's access and must be a
    // trusted image (the project's own driver, from ci/driver-image.sh).
    let image = unsafe { Image::open(path, kmdf_host::Options::default()) };
    let image = image.map_err(|e| {
        let mut message = format!(
            "the image backend could not start the device: {}",
            e.message
        );
        if let Some(report) = &e.report {
            message.push('\n');
            message.push_str(render_report(report).trim_end());
        }
        Failure::failed(message)
    })?;
    if faults.is_empty() {
        return Ok(Box::new(image));
    }
    let client = Client::new(image);
    let info = match client.info() {
        Ok(info) => info,
        Err(e) => return Err(close_with(Box::new(client.into_transport()), e.to_string())),
    };
    let image = client.into_transport();
    for &(strategy, n) in faults {
        let Some(offered) = info.strategies.iter().find(|s| s.id == strategy.as_u32()) else {
            let message = format!(
                "--inject-fault: the driver offers no strategy '{}'",
                strategy.name()
            );
            return Err(close_with(Box::new(image), message));
        };
        image.inject_fault(strategy, offered.tag, n);
    }
    Ok(Box::new(image))
}

/// Closes a transport that cannot be used, keeping what it found.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn close_with(transport: Box<dyn Transport>, message: String) -> Failure {
    let mut failure = Failure::failed(message);
    if let Some(closing) = transport.close() {
        failure.message.push('\n');
        failure.message.push_str(closing.report.trim_end());
    }
    failure
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn open_image(
    _path: &std::path::Path,
    _faults: &[(StrategyId, u64)],
) -> Result<Box<dyn Transport>, Failure> {
    Err(image_unsupported())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn choose(args: &[&str], faults: &[(StrategyId, u64)]) -> Result<Backend, Failure> {
        let cli = Cli::try_parse_from(["kcomctl"].iter().chain(args).chain(&["list"])).unwrap();
        choose_backend(&cli, faults)
    }

    #[test]
    fn flags_choose_the_backend() {
        let bump = [(StrategyId::Bump, 1)];
        assert_eq!(choose(&["--loopback"], &bump), Ok(Backend::Loopback));
        let default = if HAS_DEVICE_BACKEND {
            Backend::Device
        } else {
            Backend::Loopback
        };
        assert_eq!(choose(&[], &[]), Ok(default));
        if !HAS_DEVICE_BACKEND {
            let e = choose(&["--device"], &[]).unwrap_err();
            assert_eq!(e.code, super::super::EXIT_USAGE);
            assert!(e.message.contains("only on Windows"), "{}", e.message);
        }
        let image = choose(&["--image", "kcom_sample.sys"], &bump);
        if HAS_IMAGE_BACKEND {
            assert_eq!(image, Ok(Backend::Image("kcom_sample.sys".into())));
        } else {
            let e = image.unwrap_err();
            assert_eq!(e.code, super::super::EXIT_USAGE);
            assert!(e.message.contains("unsupported on this platform"));
        }
        // Only backends that inject faults accept a fault plan.
        assert!(Backend::Loopback.injects_faults());
        assert!(Backend::Image("x".into()).injects_faults());
        assert!(!Backend::Device.injects_faults());
        // 'global' is the host heap in the loopback, the pool in the image.
        let global = [(StrategyId::Global, 1)];
        let e = choose(&["--loopback"], &global).unwrap_err();
        assert!(
            e.message.contains("cannot target 'global'"),
            "{}",
            e.message
        );
        if HAS_IMAGE_BACKEND {
            assert!(choose(&["--image", "x.sys"], &global).is_ok());
        }
        // One backend at a time.
        let both = Cli::try_parse_from(["kcomctl", "--image", "x.sys", "--loopback", "list"]);
        assert!(both.is_err());
    }

    #[test]
    fn the_loopback_opens_with_its_fault_plan() {
        let Ok(transport) = open(&Backend::Loopback, &[]) else {
            panic!("the loopback opens");
        };
        assert!(transport.describe().starts_with("loopback"));
        assert_eq!(
            transport.close(),
            None,
            "the loopback has nothing to report"
        );
        // A plan the loopback refuses is a usage error.
        let Err(e) = open(&Backend::Loopback, &[(StrategyId::Global, 1)]) else {
            panic!("'global' cannot take a fault");
        };
        assert_eq!(e.code, super::super::EXIT_USAGE);
    }

    #[test]
    fn an_image_that_is_not_there_is_a_clear_failure() {
        let Err(e) = open(&Backend::Image("/nonexistent/kcom_sample.sys".into()), &[]) else {
            panic!("no image, no transport");
        };
        assert_eq!(e.code, super::super::EXIT_FAILED);
        if HAS_IMAGE_BACKEND {
            assert!(
                e.message.contains("/nonexistent/kcom_sample.sys"),
                "{}",
                e.message
            );
        } else {
            assert!(e.message.contains("unsupported"), "{}", e.message);
        }
    }
}
