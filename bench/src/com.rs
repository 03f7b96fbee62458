//! COM runtime workloads against the std anchors kcom must match.
//!
//! * `call`: a method call through a COM vtable (safe `ComRc` client and a
//!   raw vtable call) against a `&dyn Trait` call with the same body;
//! * `create_release`: creating and destroying an object (global allocator
//!   and a `Pool`) against `Arc::new` + drop of the same payload;
//! * `addref_release`: `ComRc::clone` + drop, `ClassRc::clone` + drop (the
//!   count updated in place) and a raw `AddRef`/`Release` pair against
//!   `Arc::clone` + drop;
//! * `query_release`: `QueryInterface` + `Release` (no std anchor; compared
//!   with kcom-rs by the instruction harness).
//!
//! Receivers, pointers and arguments go through `black_box` every step on
//! both sides, so neither side can be inlined or devirtualised.

use core::ffi::c_void;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kcom::alloc::Pool;
use kcom::{
    ClassRc, ComClass, ComImpl, ComInterfaceInfo, ComObject, ComRc, GUID, GlobalAllocator,
    IUnknown, IUnknownVtbl, NTSTATUS, STATUS_SUCCESS, declare_com_interface, impl_com_object,
    implement_com,
};

use crate::{Group, Visit};

const fn group(name: &'static str, step: &'static str) -> Group {
    Group {
        name,
        step,
        warmup: 4096,
        steps: 65_536,
        warm_up_time: Duration::from_secs(1),
        measurement_time: Duration::from_secs(3),
        sample_size: 100,
    }
}

/// One method call per step.
pub const CALL: Group = group("call", "one method call");
/// One object created and destroyed per step.
pub const CREATE_RELEASE: Group = group("create_release", "create + release one object");
/// One reference taken and given back per step.
pub const ADDREF_RELEASE: Group = group("addref_release", "AddRef + Release");
/// One successful `QueryInterface` and the `Release` of its result per step.
pub const QUERY_RELEASE: Group = group("query_release", "QueryInterface (hit) + Release");

declare_com_interface! {
    /// The benchmarked interface.
    pub trait IAdder: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("0c6a53f1-7d2e-4b8a-9f10-3e5d7a2b9c41");

        /// Returns `x + state` (a value returned through the out pointer).
        fn add(&self, x: u64) -> Result<u64, NTSTATUS>;
        /// Wrapping-adds `x` into the accumulator (a plain status return).
        fn accumulate(&self, x: u64) -> NTSTATUS;
    }
}

/// The anchor: the same two methods as an ordinary Rust trait object.
pub trait DynAdder {
    /// As [`IAdder::add`].
    fn add(&self, x: u64) -> Result<u64, NTSTATUS>;
    /// As [`IAdder::accumulate`].
    fn accumulate(&self, x: u64) -> NTSTATUS;
}

/// The payload of every object in these workloads (16 bytes).
#[derive(Debug)]
pub struct Adder {
    state: u64,
    acc: AtomicU64,
}

impl Adder {
    /// An adder of `state` with an empty accumulator.
    pub fn new(state: u64) -> Self {
        Adder {
            state,
            acc: AtomicU64::new(0),
        }
    }

    /// The shared body of both `add`s.
    #[inline(always)]
    fn add_body(&self, x: u64) -> Result<u64, NTSTATUS> {
        Ok(x.wrapping_add(self.state))
    }

    /// The shared body of both `accumulate`s: a relaxed load and store, so
    /// the call overhead is not hidden behind a locked instruction.
    #[inline(always)]
    fn accumulate_body(&self, x: u64) -> NTSTATUS {
        let v = self.acc.load(Ordering::Relaxed).wrapping_add(x);
        self.acc.store(v, Ordering::Relaxed);
        STATUS_SUCCESS
    }
}

impl IAdder for Adder {
    fn add(&self, x: u64) -> Result<u64, NTSTATUS> {
        self.add_body(x)
    }
    fn accumulate(&self, x: u64) -> NTSTATUS {
        self.accumulate_body(x)
    }
}

impl DynAdder for Adder {
    fn add(&self, x: u64) -> Result<u64, NTSTATUS> {
        self.add_body(x)
    }
    fn accumulate(&self, x: u64) -> NTSTATUS {
        self.accumulate_body(x)
    }
}

// The generated style: `ComClass::try_create` returns a `ComRc`.
implement_com!(Adder: IAdder);

// The hand-written (seed) style: a `ComImpl` vtable and `new_com`.
impl ComImpl<IAdderVtbl> for Adder {
    const VTABLE: &'static IAdderVtbl = &IAdderVtbl {
        parent: *<Adder as ComImpl<IUnknownVtbl>>::VTABLE,
        add: shim_IAdder_add::<Adder>,
        accumulate: shim_IAdder_accumulate::<Adder>,
    };

    fn query_interface(&self, this: *mut c_void, riid: &GUID) -> Option<*mut c_void> {
        if *riid == <IAdderInterface as ComInterfaceInfo>::IID {
            Some(this)
        } else {
            <Adder as ComImpl<IUnknownVtbl>>::query_interface(self, this, riid)
        }
    }
}

impl_com_object!(Adder, IAdderVtbl);

/// Folds an `add` result into one word, the same way on every side.
///
/// Handing the 16-byte `Result` itself to `black_box` makes the compiler
/// reload it with one 16-byte load right after the callee's two narrower
/// stores (a store-forwarding stall of several nanoseconds), which would
/// penalise whichever side returns the `Result` in memory.
#[inline(always)]
fn fold(r: Result<u64, NTSTATUS>) -> u64 {
    match r {
        Ok(v) => v,
        Err(e) => e as u32 as u64,
    }
}

/// The `IAdder` vtable of an interface pointer.
///
/// # Safety
///
/// `p` must be a live `IAdder` interface pointer.
#[inline(always)]
unsafe fn adder_vtbl<'a>(p: *mut c_void) -> &'a IAdderVtbl {
    // SAFETY: an interface pointer points to its vtable pointer; the vtable
    // is a static `IAdderVtbl` (contract).
    unsafe { &**(p as *const *const IAdderVtbl) }
}

/// A fresh `Adder` object through `ComClass`.
fn new_rc() -> ComRc<IAdderInterface> {
    Adder::try_create(Adder::new(7)).expect("allocation")
}

/// Shows every COM workload to `v`.
pub fn visit(v: &mut impl Visit) {
    call(v);
    create_release(v);
    addref_release(v);
    query_release(v);
}

fn call(v: &mut impl Visit) {
    let g = &CALL;
    v.visit(g, "add_dyn_anchor", || {
        let plain = Adder::new(7);
        move || {
            let d = black_box(&plain as &dyn DynAdder);
            black_box(fold(d.add(black_box(5))));
        }
    });
    v.visit(g, "add_comrc", || {
        let rc = new_rc();
        move || {
            let r = black_box(&rc);
            black_box(fold(r.add(black_box(5))));
        }
    });
    v.visit(g, "add_raw_vtable", || {
        let rc = new_rc();
        move || {
            let p = black_box(rc.as_raw());
            let mut out = 0u64;
            // SAFETY: `p` is `rc`'s live IAdder pointer; `out` is a writable local.
            let status = unsafe { (adder_vtbl(p).add)(p, black_box(5), &mut out) };
            black_box(fold(if kcom::nt_success(status) {
                Ok(out)
            } else {
                Err(status)
            }));
        }
    });
    v.visit(g, "accumulate_dyn_anchor", || {
        let plain = Adder::new(7);
        move || {
            let d = black_box(&plain as &dyn DynAdder);
            black_box(d.accumulate(black_box(5)));
        }
    });
    v.visit(g, "accumulate_comrc", || {
        let rc = new_rc();
        move || {
            let r = black_box(&rc);
            black_box(r.accumulate(black_box(5)));
        }
    });
    v.visit(g, "accumulate_raw_vtable", || {
        let rc = new_rc();
        move || {
            let p = black_box(rc.as_raw());
            // SAFETY: `p` is `rc`'s live IAdder pointer.
            black_box(unsafe { (adder_vtbl(p).accumulate)(p, black_box(5)) });
        }
    });
}

/// Blocks in the pools objects are created in (one is live at a time).
const OBJECT_POOL_BLOCKS: usize = 16;

/// A pool whose blocks hold one `Adder` object with a `&Pool` allocator.
fn object_pool() -> Rc<Pool> {
    let size = size_of::<ComObject<Adder, IAdderVtbl, &Pool>>();
    Rc::new(Pool::with_blocks_in(size, OBJECT_POOL_BLOCKS, GlobalAllocator).expect("pool"))
}

fn create_release(v: &mut impl Visit) {
    let g = &CREATE_RELEASE;
    v.visit(g, "arc_anchor", || {
        || drop(black_box(Arc::new(Adder::new(black_box(7)))))
    });
    v.visit(g, "try_create", || {
        || {
            let rc = Adder::try_create(Adder::new(black_box(7))).expect("allocation");
            drop(black_box(rc))
        }
    });
    v.visit(g, "classrc_try_new", || {
        || {
            let rc = ClassRc::try_new(Adder::new(black_box(7))).expect("allocation");
            drop(black_box(rc))
        }
    });
    v.visit(g, "seed_new_com", || {
        || {
            let raw = black_box(Adder::new_com(Adder::new(black_box(7))));
            // SAFETY: `raw` is the primary pointer `new_com` returned with one
            // reference, given up here and not used again.
            unsafe { ComObject::<Adder, IAdderVtbl>::shim_release(raw) };
        }
    });
    v.visit(g, "try_create_in_pool", || {
        let pool = object_pool();
        move || {
            let pool = black_box(&*pool);
            // SAFETY: the object is released in this step, while the pool
            // (owned by the closure) is alive, on this thread.
            let rc = unsafe { Adder::try_create_in_unchecked(Adder::new(black_box(7)), pool) }
                .expect("pool block");
            drop(black_box(rc))
        }
    });
    v.visit(g, "seed_new_in_pool", || {
        let pool = object_pool();
        move || {
            let pool = black_box(&*pool);
            // SAFETY: the object is released in this step, while the pool
            // (owned by the closure) is alive, on this thread.
            let raw = unsafe {
                ComObject::<Adder, IAdderVtbl, &Pool>::try_new_in_unchecked(
                    Adder::new(black_box(7)),
                    pool,
                )
            }
            .expect("pool block");
            let raw = black_box(raw);
            // SAFETY: `raw` is the primary pointer with one reference, given
            // up here, while the pool is alive.
            unsafe { (adder_vtbl(raw).parent.Release)(raw) };
        }
    });
}

/// `Arc` reference counting behind a table of `extern "system"` function
/// pointers: the anchor's atomics with the call structure of a COM vtable.
/// A diagnostic row, not a target: it separates the cost of calling
/// through a vtable from the cost of kcom's own AddRef/Release code.
struct ArcVtbl {
    add_ref: unsafe extern "system" fn(*const Adder) -> u32,
    release: unsafe extern "system" fn(*const Adder) -> u32,
}

/// # Safety
///
/// `p` must come from `Arc::into_raw` of a live `Arc<Adder>`.
unsafe extern "system" fn arc_add_ref(p: *const Adder) -> u32 {
    // SAFETY: `p` is a live `Arc` pointer (contract).
    unsafe { Arc::increment_strong_count(p) };
    1
}

/// # Safety
///
/// `p` must come from `Arc::into_raw` and the caller gives up one count.
unsafe extern "system" fn arc_release(p: *const Adder) -> u32 {
    // SAFETY: the caller owns the count given up here (contract).
    unsafe { Arc::decrement_strong_count(p) };
    0
}

static ARC_VTBL: ArcVtbl = ArcVtbl {
    add_ref: arc_add_ref,
    release: arc_release,
};

fn addref_release(v: &mut impl Visit) {
    let g = &ADDREF_RELEASE;
    v.visit(g, "arc_anchor", || {
        let arc = Arc::new(Adder::new(7));
        move || drop(black_box(Arc::clone(black_box(&arc))))
    });
    v.visit(g, "comrc_clone", || {
        let rc = new_rc();
        move || drop(black_box(ComRc::clone(black_box(&rc))))
    });
    v.visit(g, "classrc_clone", || {
        let rc = ClassRc::try_new(Adder::new(7)).expect("allocation");
        move || drop(black_box(ClassRc::clone(black_box(&rc))))
    });
    v.visit(g, "raw_vtable", || {
        let rc = new_rc();
        move || {
            let p = black_box(rc.as_raw());
            // SAFETY: `p` is `rc`'s live pointer; the reference AddRef adds is
            // given back by the Release right after it.
            unsafe {
                let unk = &adder_vtbl(p).parent;
                (unk.AddRef)(p);
                black_box((unk.Release)(p));
            }
        }
    });
    v.visit(g, "arc_via_fn_ptr_diagnostic", || {
        let arc = Arc::new(Adder::new(7));
        move || {
            let p = black_box(Arc::as_ptr(&arc));
            let vt = black_box(&ARC_VTBL);
            // SAFETY: `p` is `arc`'s live pointer; the count added is given
            // back right after.
            unsafe {
                (vt.add_ref)(p);
                black_box((vt.release)(p));
            }
        }
    });
}

fn query_release(v: &mut impl Visit) {
    let g = &QUERY_RELEASE;
    v.visit(g, "comrc_query_interface", || {
        let rc = new_rc();
        move || {
            let r = black_box(&rc);
            drop(black_box(
                r.query_interface::<IAdderInterface>().expect("IAdder"),
            ));
        }
    });
    v.visit(g, "raw_vtable", || {
        let rc = new_rc();
        move || {
            let p = black_box(rc.as_raw());
            let mut out: *mut c_void = core::ptr::null_mut();
            // SAFETY: `p` is `rc`'s live pointer; the IID and `out` are valid
            // locals; the reference QueryInterface adds is released at once.
            unsafe {
                let unk = &adder_vtbl(p).parent;
                let iid = black_box(&<IAdderInterface as ComInterfaceInfo>::IID);
                let status = (unk.QueryInterface)(p, iid, &mut out);
                assert_eq!(status, STATUS_SUCCESS);
                let out = black_box(out);
                black_box((adder_vtbl(out).parent.Release)(out));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every workload runs a few steps, and the objects behave as claimed.
    #[test]
    fn workloads_run_and_objects_behave() {
        struct Run(usize);
        impl Visit for Run {
            fn visit<S, F>(&mut self, _: &Group, _: &'static str, mut setup: F)
            where
                S: FnMut(),
                F: FnMut() -> S,
            {
                let mut step = setup();
                for _ in 0..3 {
                    step();
                }
                self.0 += 1;
            }
        }
        let mut run = Run(0);
        visit(&mut run);
        assert_eq!(run.0, 19);

        let rc = new_rc();
        assert_eq!(rc.add(1), Ok(8));
        assert_eq!(rc.accumulate(3), STATUS_SUCCESS);
        let plain = Adder::new(7);
        assert_eq!(DynAdder::add(&plain, 1), Ok(8));
        assert_eq!(DynAdder::accumulate(&plain, 3), STATUS_SUCCESS);
        assert_eq!(plain.acc.load(Ordering::Relaxed), 3);
    }
}
