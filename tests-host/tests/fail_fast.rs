//! Broken invariants stop the process instead of unwinding through a shim or
//! corrupting memory: a panic inside a COM method, an object that takes a
//! new reference to itself from its own destructor (resurrection), a
//! `Release` from the destructor (underflow) and a null `this` (debug builds).
//!
//! Each scenario runs in a child process (this test binary, re-executed),
//! whose death by `SIGABRT` and message are checked.
#![cfg(not(miri))]

use core::ffi::c_void;
use std::cell::Cell;
use std::process::Command;

use kcom::{ComClass, ComRc, GUID, IUnknown, NTSTATUS, STATUS_SUCCESS};
use kcom::{declare_com_interface, implement_com};

declare_com_interface! {
    pub trait IBoom: IUnknown {
        const IID: GUID = kcom::guid!("f00dfa11-0000-4000-8000-000000000001");
        /// Panics when `panic` is non-zero.
        fn boom(&self, panic: u32) -> NTSTATUS;
        /// Hands the object its own interface pointer, for its destructor.
        fn remember(&self, me: *mut c_void) -> NTSTATUS;
    }
}

/// What the value does to its own object when dropped.
#[derive(Clone, Copy, PartialEq)]
enum OnDrop {
    Nothing,
    AddRefSelf,
    ReleaseSelf,
}

struct Boom {
    on_drop: OnDrop,
    me: Cell<*mut c_void>,
}

impl IBoom for Boom {
    fn boom(&self, panic: u32) -> NTSTATUS {
        if panic != 0 {
            panic!("a bug inside a COM method");
        }
        STATUS_SUCCESS
    }
    fn remember(&self, me: *mut c_void) -> NTSTATUS {
        self.me.set(me);
        STATUS_SUCCESS
    }
}

impl Drop for Boom {
    fn drop(&mut self) {
        let me = self.me.get();
        if me.is_null() || self.on_drop == OnDrop::Nothing {
            return;
        }
        // SAFETY: `me` is the object being destroyed; its memory stays
        // allocated while its value is dropped, so these calls read valid
        // memory. They are the misuse the runtime must stop.
        unsafe {
            let unk = &**(me as *const *const kcom::IUnknownVtbl);
            if self.on_drop == OnDrop::AddRefSelf {
                (unk.AddRef)(me);
            } else {
                (unk.Release)(me);
            }
        }
    }
}

implement_com!(Boom: IBoom);

fn make(on_drop: OnDrop) -> ComRc<IBoomInterface> {
    let rc = Boom::try_create(Boom {
        on_drop,
        me: Cell::new(core::ptr::null_mut()),
    })
    .unwrap();
    assert_eq!(rc.remember(rc.as_raw()), STATUS_SUCCESS);
    rc
}

/// The child side: runs the scenario named by `KCOM_FAILFAST_CHILD`.
#[test]
fn child_entry() {
    let Ok(which) = std::env::var("KCOM_FAILFAST_CHILD") else {
        return; // not a child: nothing to do
    };
    match which.as_str() {
        "panic_in_method" => {
            let rc = make(OnDrop::Nothing);
            let _ = rc.boom(1);
        }
        "resurrection" => drop(make(OnDrop::AddRefSelf)),
        "underflow" => drop(make(OnDrop::ReleaseSelf)),
        "null_this" => {
            // SAFETY: deliberately wrong: a null `this` must be caught (debug
            // builds) before it is dereferenced.
            unsafe { kcom::ComObject::<Boom, IBoomVtbl>::shim_release(core::ptr::null_mut()) };
        }
        other => panic!("unknown scenario {other}"),
    }
    // Reaching this line means the runtime did not stop the process.
    std::process::exit(0);
}

fn run_child(scenario: &str) -> (Option<i32>, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("KCOM_FAILFAST_CHILD", scenario)
        .output()
        .unwrap();
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&out.status);
    #[cfg(not(unix))]
    let signal = out.status.code();
    (signal, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[cfg(unix)]
const SIGABRT: i32 = 6;

fn assert_aborted(scenario: &str, message: &str) {
    let (signal, stderr) = run_child(scenario);
    #[cfg(unix)]
    assert_eq!(
        signal,
        Some(SIGABRT),
        "{scenario}: not aborted; stderr:\n{stderr}"
    );
    #[cfg(not(unix))]
    assert_ne!(
        signal,
        Some(0),
        "{scenario}: not aborted; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(message),
        "{scenario}: expected {message:?} in stderr:\n{stderr}"
    );
}

#[test]
fn a_panic_in_a_method_aborts_instead_of_unwinding_through_the_shim() {
    assert_aborted(
        "panic_in_method",
        "kcom fail-fast: a panic reached a COM shim",
    );
}

#[test]
fn add_ref_from_the_destructor_is_caught() {
    assert_aborted("resurrection", "kcom fail-fast: COM object resurrected");
}

#[test]
fn release_from_the_destructor_is_caught() {
    assert_aborted(
        "underflow",
        "kcom fail-fast: COM Release on an object with no references",
    );
}

#[test]
fn a_null_this_is_caught_in_debug_builds() {
    if cfg!(debug_assertions) {
        assert_aborted(
            "null_this",
            "kcom fail-fast: COM method called with a null `this`",
        );
    }
}
