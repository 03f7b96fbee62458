//! The COM workloads of `kcom_bench::com`, written against kcom-rs v0.5, for
//! the instruction harness (`--list` / `--run`, see `kcom_bench::serve`).
//!
//! Not part of the workspace: `ci/kcom-rs-bench.sh` builds it outside the
//! repository against a kcom-rs checkout (`KCOM_RS_DIR`), as the package
//! `kcom_rs`, next to this repository's `kcom` (for the `Pool`) and
//! `kcom-bench` (for the groups and the step loop).
//!
//! Same payload, same bodies, same `black_box` discipline as kcom's side.
//! kcom-rs maps a `Result<T, NTSTATUS>` method to a bare status (the value
//! is dropped) and has no generated client methods, so `add` takes the out
//! pointer explicitly (the ABI kcom's shim has for `Result<u64, NTSTATUS>`)
//! and calls go through the vtable on both sides (`*_raw_vtable`).

use core::ffi::c_void;
use std::hint::black_box;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use kcom::alloc::Pool;
use kcom_bench::com::{ADDREF_RELEASE, CALL, CREATE_RELEASE, QUERY_RELEASE};
use kcom_bench::{Visit, Workloads};
use kcom_rs::vtable::ComInterfaceInfo;
use kcom_rs::wrapper::ComObject;
use kcom_rs::{
    ComImpl, ComRc, GUID, IUnknownVtbl, NTSTATUS, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
    declare_com_interface, impl_com_interface, impl_com_object,
};

declare_com_interface! {
    /// The benchmarked interface (same IID and methods as kcom's side).
    pub trait IAdder: IUnknown {
        const IID: GUID = GUID {
            data1: 0x0c6a_53f1,
            data2: 0x7d2e,
            data3: 0x4b8a,
            data4: [0x9f, 0x10, 0x3e, 0x5d, 0x7a, 0x2b, 0x9c, 0x41],
        };

        /// Writes `x + state` to `out`.
        fn add(&self, x: u64, out: *mut u64) -> NTSTATUS;
        /// Wrapping-adds `x` into the accumulator.
        fn accumulate(&self, x: u64) -> NTSTATUS;
    }
}

/// The payload (16 bytes), as on kcom's side.
struct Adder {
    state: u64,
    acc: AtomicU64,
}

impl Adder {
    fn new(state: u64) -> Self {
        Adder {
            state,
            acc: AtomicU64::new(0),
        }
    }
}

impl IAdder for Adder {
    #[inline(always)]
    fn add(&self, x: u64, out: *mut u64) -> NTSTATUS {
        // kcom's shim checks its out pointer the same way.
        if out.is_null() {
            return STATUS_INVALID_PARAMETER;
        }
        // SAFETY: a non-null out pointer from the caller, valid for writes.
        unsafe { out.write(x.wrapping_add(self.state)) };
        STATUS_SUCCESS
    }
    #[inline(always)]
    fn accumulate(&self, x: u64) -> NTSTATUS {
        let v = self.acc.load(Ordering::Relaxed).wrapping_add(x);
        self.acc.store(v, Ordering::Relaxed);
        STATUS_SUCCESS
    }
}

impl_com_interface! {
    impl Adder: IAdder {
        parent = IUnknownVtbl,
        methods = [add, accumulate],
    }
}

impl_com_object!(Adder, IAdderVtbl);

/// kcom-rs's allocator trait over this repository's `Pool` (one thread).
#[derive(Clone, Copy)]
struct PoolAlloc(*const Pool);

// SAFETY: the runner is single-threaded; the pool is only used on the thread
// that made it, and outlives every object (the workload owns both).
unsafe impl Send for PoolAlloc {}
// SAFETY: as above.
unsafe impl Sync for PoolAlloc {}

impl kcom_rs::Allocator for PoolAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: the pool is alive (see `Send`); forwarded contract.
        unsafe { kcom::Allocator::alloc(&*self.0, layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: core::alloc::Layout) {
        // SAFETY: as above; `ptr` came from `alloc` with `layout`.
        unsafe { kcom::Allocator::dealloc(&*self.0, ptr, layout) }
    }
}

/// The payload of objects made in a pool. kcom-rs's single-interface
/// vtable (`impl_com_interface!`) holds the `IUnknown` shims of
/// `ComObject<T, I>` with the global allocator, so an object made with
/// `ComObject::<T, I, A>::new_in` would be freed through the wrong
/// allocator; this type's hand-written vtable holds the shims of
/// `ComObject<PoolAdder, IAdderVtbl, PoolAlloc>` instead (the method shims
/// only use the fields before the allocator, whose layout does not change).
struct PoolAdder(Adder);

impl IAdder for PoolAdder {
    #[inline(always)]
    fn add(&self, x: u64, out: *mut u64) -> NTSTATUS {
        self.0.add(x, out)
    }
    #[inline(always)]
    fn accumulate(&self, x: u64) -> NTSTATUS {
        self.0.accumulate(x)
    }
}

type PoolObject = ComObject<PoolAdder, IAdderVtbl, PoolAlloc>;

impl ComImpl<IAdderVtbl> for PoolAdder {
    const VTABLE: &'static IAdderVtbl = &IAdderVtbl {
        parent: IUnknownVtbl {
            QueryInterface: PoolObject::shim_query_interface,
            AddRef: PoolObject::shim_add_ref,
            Release: PoolObject::shim_release,
        },
        add: shim_IAdder_add::<PoolAdder>,
        accumulate: shim_IAdder_accumulate::<PoolAdder>,
    };

    fn query_interface(&self, this: *mut c_void, riid: &GUID) -> Option<*mut c_void> {
        (*riid == <IAdderInterface as ComInterfaceInfo>::IID).then_some(this)
    }
}

/// The vtable of an `IAdder` pointer.
///
/// # Safety
///
/// `p` must be a live `IAdder` interface pointer.
#[inline(always)]
unsafe fn vtbl<'a>(p: *mut c_void) -> &'a IAdderVtbl {
    // SAFETY: an interface pointer points to its vtable pointer (contract).
    unsafe { &**(p as *const *const IAdderVtbl) }
}

fn new_rc() -> ComRc<IAdderRaw> {
    Adder::new_com_rc::<IAdderRaw>(Adder::new(7)).expect("allocation")
}

/// A pool with 16 blocks that fit one pool object.
fn object_pool() -> Rc<Pool> {
    let size = size_of::<PoolObject>();
    Rc::new(Pool::with_blocks_in(size, 16, kcom::GlobalAllocator).expect("pool"))
}

struct KcomRs;

impl Workloads for KcomRs {
    fn visit_all<V: Visit>(&self, v: &mut V) {
        create_release(v);
        call(v);
        addref_release(v);
        query_release(v);
    }
}

fn create_release(v: &mut impl Visit) {
    let g = &CREATE_RELEASE;
    v.visit(g, "kcom_rs_new_rc", || {
        || {
            let rc = Adder::new_com_rc::<IAdderRaw>(Adder::new(black_box(7))).expect("allocation");
            drop(black_box(rc))
        }
    });
    v.visit(g, "kcom_rs_new", || {
        || {
            let raw = black_box(Adder::new_com(Adder::new(black_box(7))).expect("allocation"));
            // SAFETY: `raw` is the primary pointer with one reference, given up here.
            unsafe { ComObject::<Adder, IAdderVtbl>::shim_release(raw) };
        }
    });
    v.visit(g, "kcom_rs_new_rc_in_pool", || {
        let pool = object_pool();
        move || {
            let alloc = PoolAlloc(black_box(&*pool));
            let rc = PoolObject::new_rc_in::<IAdderRaw>(PoolAdder(Adder::new(black_box(7))), alloc)
                .expect("pool block");
            drop(black_box(rc))
        }
    });
    v.visit(g, "kcom_rs_new_in_pool", || {
        let pool = object_pool();
        move || {
            let alloc = PoolAlloc(black_box(&*pool));
            let raw =
                PoolObject::new_in(PoolAdder(Adder::new(black_box(7))), alloc).expect("pool block");
            let raw = black_box(raw);
            // SAFETY: `raw` is the primary pointer with one reference, given
            // up here, while the pool is alive.
            unsafe { (vtbl(raw).parent.Release)(raw) };
        }
    });
}

fn call(v: &mut impl Visit) {
    let g = &CALL;
    v.visit(g, "kcom_rs_add_raw_vtable", || {
        let rc = new_rc();
        move || {
            let p = black_box(rc.as_ptr().cast::<c_void>());
            let mut out = 0u64;
            // SAFETY: `p` is `rc`'s live IAdder pointer; `out` is a writable local.
            let status = unsafe { (vtbl(p).add)(p, black_box(5), &mut out) };
            black_box(if status == STATUS_SUCCESS {
                out
            } else {
                status as u32 as u64
            });
        }
    });
    v.visit(g, "kcom_rs_accumulate_raw_vtable", || {
        let rc = new_rc();
        move || {
            let p = black_box(rc.as_ptr().cast::<c_void>());
            // SAFETY: `p` is `rc`'s live IAdder pointer.
            black_box(unsafe { (vtbl(p).accumulate)(p, black_box(5)) });
        }
    });
}

fn addref_release(v: &mut impl Visit) {
    let g = &ADDREF_RELEASE;
    v.visit(g, "kcom_rs_comrc_clone", || {
        let rc = new_rc();
        move || drop(black_box(ComRc::clone(black_box(&rc))))
    });
    v.visit(g, "kcom_rs_raw_vtable", || {
        let rc = new_rc();
        move || {
            let p = black_box(rc.as_ptr().cast::<c_void>());
            // SAFETY: `p` is `rc`'s live pointer; the reference AddRef adds is
            // given back by the Release right after it.
            unsafe {
                let unk = &vtbl(p).parent;
                (unk.AddRef)(p);
                black_box((unk.Release)(p));
            }
        }
    });
}

fn query_release(v: &mut impl Visit) {
    let g = &QUERY_RELEASE;
    v.visit(g, "kcom_rs_comrc_query_interface", || {
        let rc = new_rc();
        move || {
            let r = black_box(&rc);
            drop(black_box(r.query_interface::<IAdderRaw>().expect("IAdder")));
        }
    });
    v.visit(g, "kcom_rs_raw_vtable", || {
        let rc = new_rc();
        move || {
            let p = black_box(rc.as_ptr().cast::<c_void>());
            let mut out: *mut c_void = core::ptr::null_mut();
            // SAFETY: `p` is `rc`'s live pointer; the IID and `out` are valid
            // locals; the reference QueryInterface adds is released at once.
            unsafe {
                let iid = black_box(&<IAdderInterface as ComInterfaceInfo>::IID);
                let status = (vtbl(p).parent.QueryInterface)(p, iid, &mut out);
                assert_eq!(status, STATUS_SUCCESS);
                let out = black_box(out);
                black_box((vtbl(out).parent.Release)(out));
            }
        }
    });
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = kcom_bench::serve(&KcomRs, &args) {
        return code;
    }
    // Without arguments: run every workload a few steps and check the
    // objects behave, so a broken build fails before it is counted.
    let rc = new_rc();
    let p = rc.as_ptr().cast::<c_void>();
    let mut out = 0;
    // SAFETY: `p` is live; `out` is a writable local.
    assert_eq!(unsafe { (vtbl(p).add)(p, 1, &mut out) }, STATUS_SUCCESS);
    assert_eq!(out, 8);
    for (group, name, _, _) in kcom_bench::list_workloads(&KcomRs) {
        assert!(kcom_bench::run_workload(
            &KcomRs,
            &format!("{group}/{name}"),
            3
        ));
    }
    println!("kcom-rs runner: every workload ran");
    ExitCode::SUCCESS
}
