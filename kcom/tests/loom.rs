//! Exhaustive interleaving checks (loom) of kcom's two hand-written atomic
//! protocols, on the real code: the COM reference count (Release decrement,
//! Acquire on the last reference, then destroy; through the vtable shims and
//! in place through `ClassRc`) and `SpinLock` (Acquire
//! compare-exchange, Release store) behind `Locked`.
//!
//! Only built with `--cfg loom`, which switches those two atomics to loom's:
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p kcom --test loom --release
//! ```
//!
//! The values touched by several threads live in `loom::cell::UnsafeCell`,
//! so loom fails the test if any access is not ordered after the previous
//! one by a happens-before edge the protocol itself provides.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use kcom::alloc::{Locked, SpinLock};
use kcom::{ComClass, GUID, IUnknown, NTSTATUS, STATUS_SUCCESS};
use kcom::{declare_com_interface, implement_com};

declare_com_interface! {
    /// A value written by one thread and read by the destructor.
    pub trait ISlot: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("2c5e8f41-7a3b-4d1e-9f60-3b8d2a1c4e01");
        /// Stores `v` (plain memory).
        fn set(&self, v: u32) -> NTSTATUS;
    }
}

struct Slot {
    value: UnsafeCell<u32>,
}

// SAFETY: in the models below only one thread writes, before giving up its
// reference; the destructor reads after the last reference is gone. That
// ordering is exactly what the model checks.
unsafe impl Sync for Slot {}
// SAFETY: a `u32` in a cell may move between threads.
unsafe impl Send for Slot {}

impl ISlot for Slot {
    fn set(&self, v: u32) -> NTSTATUS {
        // SAFETY: see `Sync` above.
        self.value.with_mut(|p| unsafe { *p = v });
        STATUS_SUCCESS
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // A read that races with `set` (no happens-before edge from the
        // writer's Release to this thread) makes loom fail the model.
        // SAFETY: the last reference is gone; see `Sync` above.
        let v = self.value.with(|p| unsafe { *p });
        assert_eq!(v, 7, "the destructor did not see the other thread's write");
    }
}

implement_com!(Slot: ISlot);

#[test]
fn last_release_sees_every_write() {
    loom::model(|| {
        let obj = Slot::try_create(Slot {
            value: UnsafeCell::new(0),
        })
        .unwrap();
        let other = obj.clone();
        let t = thread::spawn(move || {
            assert_eq!(other.set(7), STATUS_SUCCESS);
            drop(other);
        });
        // Either thread may hold the last reference.
        drop(obj);
        t.join().unwrap();
    });
}

#[test]
fn clone_and_release_from_two_threads_destroys_once() {
    loom::model(|| {
        let obj = Slot::try_create(Slot {
            value: UnsafeCell::new(7),
        })
        .unwrap();
        let a = obj.clone();
        let b = obj.clone();
        drop(obj);
        let t = thread::spawn(move || {
            let c = a.clone();
            drop(a);
            drop(c);
        });
        drop(b);
        t.join().unwrap();
    });
}

/// `ClassRc` updates the count in place, with the shims' orderings: its
/// last release, on either thread, sees the other thread's write.
#[test]
fn class_handle_last_release_sees_every_write() {
    loom::model(|| {
        let obj = kcom::ClassRc::try_new(Slot {
            value: UnsafeCell::new(0),
        })
        .unwrap();
        let other = obj.clone();
        let t = thread::spawn(move || {
            assert_eq!(other.set(7), STATUS_SUCCESS);
            drop(other);
        });
        drop(obj);
        t.join().unwrap();
    });
}

/// A `ClassRc` (count in place) and a `ComRc` (count through the vtable
/// shims) on the same object: whichever is released last destroys it, and
/// sees the other's write.
#[test]
fn class_handle_and_interface_handle_agree() {
    loom::model(|| {
        let obj = kcom::ClassRc::try_new(Slot {
            value: UnsafeCell::new(0),
        })
        .unwrap();
        let iface = obj.to_interface();
        let t = thread::spawn(move || {
            assert_eq!(iface.set(7), STATUS_SUCCESS);
            drop(iface);
        });
        drop(obj);
        t.join().unwrap();
    });
}

struct Counter(UnsafeCell<u32>);
// SAFETY: moved into `Locked`, which gives one thread at a time access.
unsafe impl Send for Counter {}

#[test]
fn spin_lock_orders_the_critical_sections() {
    loom::model(|| {
        let locked = Arc::new(Locked::<Counter, SpinLock>::with_lock(Counter(
            UnsafeCell::new(0),
        )));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let locked = locked.clone();
                thread::spawn(move || {
                    let g = locked.lock();
                    // SAFETY: the guard holds the lock.
                    g.0.with_mut(|p| unsafe { *p += 1 });
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let g = locked.lock();
        // SAFETY: the guard holds the lock.
        assert_eq!(g.0.with(|p| unsafe { *p }), 2);
    });
}
