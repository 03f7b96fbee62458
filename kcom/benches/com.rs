//! Benchmarks of kcom's COM runtime against the std anchors it must match.
//!
//! Run with `cargo bench -p kcom --bench com`; BENCHMARKS.md at the
//! repository root lists the targets and the latest numbers.
//!
//! Each group pairs kcom operations with an anchor measured in the same run:
//!
//! * `call`: a method call through a COM vtable (safe `ComRc` client and a
//!   raw vtable call) against a `&dyn Trait` call with the same body;
//! * `create_release`: creating and destroying an object against
//!   `Arc::new` + drop of the same payload;
//! * `addref_release`: `ComRc::clone` + drop and a raw `AddRef`/`Release`
//!   pair against `Arc::clone` + drop.
//!
//! Receivers, pointers and arguments go through `black_box` every iteration
//! on both sides, so neither side can be inlined or devirtualised.

use core::ffi::c_void;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kcom::{
    ComClass, ComImpl, ComInterfaceInfo, ComObject, ComRc, GUID, IUnknown, IUnknownVtbl, NTSTATUS,
    STATUS_SUCCESS, declare_com_interface, impl_com_object, implement_com,
};

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
trait DynAdder {
    fn add(&self, x: u64) -> Result<u64, NTSTATUS>;
    fn accumulate(&self, x: u64) -> NTSTATUS;
}

/// The payload of every object in these benchmarks (16 bytes).
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

fn bench_call(c: &mut Criterion) {
    let mut g = c.benchmark_group("call");

    let plain = Adder::new(7);
    let rc: ComRc<IAdderInterface> = Adder::try_create(Adder::new(7)).expect("allocation");
    let raw = rc.as_raw();

    g.bench_function("add/dyn_anchor", |b| {
        b.iter(|| {
            let d = black_box(&plain as &dyn DynAdder);
            fold(d.add(black_box(5)))
        })
    });
    g.bench_function("add/comrc", |b| {
        b.iter(|| {
            let r = black_box(&rc);
            fold(r.add(black_box(5)))
        })
    });
    g.bench_function("add/raw_vtable", |b| {
        b.iter(|| {
            let p = black_box(raw);
            let mut out = 0u64;
            // SAFETY: `p` is `rc`'s live IAdder pointer; `out` is a writable local.
            let status = unsafe { (adder_vtbl(p).add)(p, black_box(5), &mut out) };
            fold(if kcom::nt_success(status) {
                Ok(out)
            } else {
                Err(status)
            })
        })
    });

    g.bench_function("accumulate/dyn_anchor", |b| {
        b.iter(|| {
            let d = black_box(&plain as &dyn DynAdder);
            d.accumulate(black_box(5))
        })
    });
    g.bench_function("accumulate/comrc", |b| {
        b.iter(|| {
            let r = black_box(&rc);
            r.accumulate(black_box(5))
        })
    });
    g.bench_function("accumulate/raw_vtable", |b| {
        b.iter(|| {
            let p = black_box(raw);
            // SAFETY: `p` is `rc`'s live IAdder pointer.
            unsafe { (adder_vtbl(p).accumulate)(p, black_box(5)) }
        })
    });
    g.finish();

    // Keep the bodies honest: the calls did what they claim.
    assert_eq!(rc.add(1), Ok(8));
    assert_eq!(DynAdder::add(&plain, 1), Ok(8));
    let before = plain.acc.load(Ordering::Relaxed);
    assert_eq!(DynAdder::accumulate(&plain, 3), STATUS_SUCCESS);
    assert_eq!(plain.acc.load(Ordering::Relaxed), before.wrapping_add(3));
    assert_eq!(rc.accumulate(3), STATUS_SUCCESS);
}

fn bench_create_release(c: &mut Criterion) {
    let mut g = c.benchmark_group("create_release");

    g.bench_function("arc_anchor", |b| {
        b.iter(|| drop(black_box(Arc::new(Adder::new(black_box(7))))))
    });
    g.bench_function("try_create", |b| {
        b.iter(|| {
            let rc = Adder::try_create(Adder::new(black_box(7))).expect("allocation");
            drop(black_box(rc))
        })
    });
    g.bench_function("seed_new_com", |b| {
        b.iter(|| {
            let raw = black_box(Adder::new_com(Adder::new(black_box(7))));
            // SAFETY: `raw` is the primary pointer `new_com` returned with one
            // reference, given up here and not used again.
            unsafe { ComObject::<Adder, IAdderVtbl>::shim_release(raw) }
        })
    });
    g.finish();
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

fn bench_addref_release(c: &mut Criterion) {
    let mut g = c.benchmark_group("addref_release");

    let arc = Arc::new(Adder::new(7));
    let rc: ComRc<IAdderInterface> = Adder::try_create(Adder::new(7)).expect("allocation");
    let raw = rc.as_raw();

    g.bench_function("arc_anchor", |b| {
        b.iter(|| drop(black_box(Arc::clone(black_box(&arc)))))
    });
    g.bench_function("comrc_clone", |b| {
        b.iter(|| drop(black_box(ComRc::clone(black_box(&rc)))))
    });
    g.bench_function("raw_vtable", |b| {
        b.iter(|| {
            let p = black_box(raw);
            // SAFETY: `p` is `rc`'s live pointer; the reference AddRef adds is
            // given back by the Release right after it.
            unsafe {
                let unk = &adder_vtbl(p).parent;
                (unk.AddRef)(p);
                (unk.Release)(p)
            }
        })
    });
    let arc_raw = Arc::as_ptr(&arc);
    g.bench_function("arc_via_fn_ptr_diagnostic", |b| {
        b.iter(|| {
            let p = black_box(arc_raw);
            let vt = black_box(&ARC_VTBL);
            // SAFETY: `p` is `arc`'s live pointer; the count added is given
            // back right after.
            unsafe {
                (vt.add_ref)(p);
                (vt.release)(p)
            }
        })
    });
    g.finish();

    // Every reference taken above was given back.
    assert_eq!(Arc::strong_count(&arc), 1);
    // SAFETY: `raw` is still live (held by `rc`); the AddRef is undone.
    let n = unsafe {
        let unk = &adder_vtbl(raw).parent;
        (unk.AddRef)(raw);
        (unk.Release)(raw)
    };
    assert_eq!(n, 1);
}

/// Short runs: the whole file takes well under two minutes.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(100)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_call, bench_create_release, bench_addref_release
}
criterion_main!(benches);
