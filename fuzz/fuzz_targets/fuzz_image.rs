//! The compiled driver image (`kcom_sample.sys`) under kmdf-host, driven by
//! sequences of IOCTL requests with pool failures injected and special pool
//! on: the program, what it checks and the input format are in
//! `kcom_fuzz::image` (fuzz/src/image.rs).
//!
//! The image is named by `KCOM_SAMPLE_IMAGE` (`bash ci/driver-image.sh`
//! prints its path as its last line); `KCOM_FUZZ_FRAMEWORK` chooses the
//! framework (`model`, kmdf-host's, the only one there is) and
//! `KCOM_FUZZ_KMDF` the KMDF version presented (`1.33` or `1.31`).
//!
//! A finding (a broken rule, an unexpected status, a leak) prints the
//! host's report and aborts, so libFuzzer saves the input. A stop (a bug
//! check, a fault in driver code, a WDF violation) ends the process in
//! kmdf-host with `_exit`, which libFuzzer never sees: this binary defines
//! `_exit` (it takes the place of libc's, and of the sanitizer's hook on
//! it, for every caller in the executable), and while an input runs it
//! aborts instead, after kmdf-host has printed its report.
#![no_main]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use kcom_fuzz::image::{Driver, Setup};
use libfuzzer_sys::fuzz_target;

/// The driver, loaded once per process.
static DRIVER: Mutex<Option<Driver>> = Mutex::new(None);

/// An input is running: an `_exit` now is a stop.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// `_exit(2)`: aborts while an input runs (kmdf-host's stop, already
/// reported), else ends the process with `status` as libc's does.
#[unsafe(no_mangle)]
pub extern "C" fn _exit(status: libc::c_int) -> ! {
    if RUNNING.load(Ordering::SeqCst) {
        eprintln!("fuzz_image: the run stopped (exit code {status}): a finding");
        std::process::abort();
    }
    loop {
        // SAFETY: exit_group takes one integer and does not return.
        unsafe { libc::syscall(libc::SYS_exit_group, status) };
    }
}

fuzz_target!(
    init: {
        match Setup::from_env() {
            Ok(setup) => *DRIVER.lock().unwrap() = Some(Driver::new(setup)),
            Err(e) => {
                eprintln!("fuzz_image: {e}");
                std::process::exit(2);
            }
        }
    },
    |data: &[u8]| {
        let mut guard = DRIVER.lock().unwrap_or_else(|e| e.into_inner());
        let driver = guard.as_mut().expect("set up in init");
        RUNNING.store(true, Ordering::SeqCst);
        let result = driver.run(data);
        RUNNING.store(false, Ordering::SeqCst);
        if let Err(finding) = result {
            eprintln!("fuzz_image: finding:\n{finding}");
            std::process::abort();
        }
    }
);
