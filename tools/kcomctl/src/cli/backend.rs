//! The backends: which one the flags choose, and the one place that opens a
//! transport for it.
//!
//! Adding a backend means one variant of [`Backend`], its flag in
//! [`super::args::Cli`], one arm in [`choose_backend`] and one in [`open`];
//! everything above the transport (plan, commands, rendering) stays as is.

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
}

impl Backend {
    /// Whether the backend can make simulated pool allocations fail
    /// (`--inject-fault`).
    pub fn injects_faults(&self) -> bool {
        match self {
            Backend::Loopback => true,
            Backend::Device => false,
        }
    }
}

/// Whether this build has the device backend.
pub const HAS_DEVICE_BACKEND: bool = cfg!(windows);

/// The backend the flags ask for; `faults` says whether a fault plan was
/// given.
pub fn choose_backend(cli: &Cli, faults: bool) -> Result<Backend, Failure> {
    let backend = if cli.loopback {
        Backend::Loopback
    } else if cli.device || HAS_DEVICE_BACKEND {
        Backend::Device
    } else {
        Backend::Loopback
    };
    if backend == Backend::Device && !HAS_DEVICE_BACKEND {
        return Err(device_missing());
    }
    if faults && !backend.injects_faults() {
        return Err(Failure::usage(format!(
            "--inject-fault ({INJECT_FAULT_ENV}) works only with --loopback"
        )));
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn choose(args: &[&str], faults: bool) -> Result<Backend, Failure> {
        let cli = Cli::try_parse_from(["kcomctl"].iter().chain(args).chain(&["list"])).unwrap();
        choose_backend(&cli, faults)
    }

    #[test]
    fn flags_choose_the_backend() {
        assert_eq!(choose(&["--loopback"], true), Ok(Backend::Loopback));
        let default = if HAS_DEVICE_BACKEND {
            Backend::Device
        } else {
            Backend::Loopback
        };
        assert_eq!(choose(&[], false), Ok(default));
        if !HAS_DEVICE_BACKEND {
            let e = choose(&["--device"], false).unwrap_err();
            assert_eq!(e.code, super::super::EXIT_USAGE);
            assert!(e.message.contains("only on Windows"), "{}", e.message);
        }
        // Only backends that inject faults accept a fault plan.
        assert!(Backend::Loopback.injects_faults());
        assert!(!Backend::Device.injects_faults());
    }

    #[test]
    fn the_loopback_opens_with_its_fault_plan() {
        let Ok(transport) = open(&Backend::Loopback, &[]) else {
            panic!("the loopback opens");
        };
        assert!(transport.describe().starts_with("loopback"));
        // A plan the loopback refuses is a usage error.
        let Err(e) = open(&Backend::Loopback, &[(StrategyId::Global, 1)]) else {
            panic!("'global' cannot take a fault");
        };
        assert_eq!(e.code, super::super::EXIT_USAGE);
    }
}
