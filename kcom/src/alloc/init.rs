//! Fallible, in-place, pinned initialisation: [`PinInit`], [`InitBox`] and
//! [`pin_init!`](crate::pin_init).
//!
//! A [`PinInit<T, E>`] writes a `T` directly into its final (pinned)
//! memory, or fails with `E` leaving that memory uninitialised. This lets
//! self-referential or large values be built without a move and lets
//! constructors fail cleanly:
//!
//! ```
//! use kcom::alloc::{InitBox, PinInit};
//! use kcom::{NTSTATUS, STATUS_INVALID_PARAMETER, pin_init};
//!
//! struct Device {
//!     id: u32,
//!     name: [u8; 8],
//! }
//!
//! fn device(id: u32) -> impl PinInit<Device, NTSTATUS> {
//!     pin_init!(Device {
//!         id: if id == 0 { return Err(STATUS_INVALID_PARAMETER) } else { id },
//!         name <- *b"device00",
//!     }? NTSTATUS)
//! }
//!
//! let d = InitBox::<Device>::try_pin_init(device(7)).unwrap();
//! assert_eq!(d.id, 7);
//! let e = InitBox::<Device>::try_pin_init(device(0));
//! assert_eq!(e.err(), Some(STATUS_INVALID_PARAMETER));
//! ```

use core::convert::Infallible;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr;

use super::AllocError;
use super::kbox::{KBox, KBoxInner};
use super::{Allocator, GlobalAllocator};

/// Initialises a `T` in place, in memory that will be pinned.
///
/// # Safety
///
/// Implementing this trait is `unsafe` because callers trust
/// [`__pinned_init`](Self::__pinned_init): when it returns `Ok(())` the
/// slot holds a fully initialised `T`; when it returns `Err` the slot is
/// left uninitialised (anything written to it was already dropped by the
/// implementation), so the caller frees the memory without running `T`'s
/// destructor.
pub unsafe trait PinInit<T, E = Infallible>: Sized {
    /// Writes a `T` into `slot`.
    ///
    /// # Safety
    ///
    /// `slot` must be valid for writes of a `T`, aligned and uninitialised
    /// (nothing there is dropped). On `Ok(())` the caller must treat the
    /// value as pinned: it may not be moved until it is dropped in place,
    /// and its memory may not be reused before that drop, even if the
    /// owner is leaked. If `T: Unpin` the value may move (as
    /// `Pin::into_inner` allows), so an initialiser cannot rely on pinning
    /// for an `Unpin` type.
    unsafe fn __pinned_init(self, slot: *mut T) -> Result<(), E>;
}

// SAFETY: writes the whole value and never fails.
unsafe impl<T, E> PinInit<T, E> for T {
    #[inline]
    unsafe fn __pinned_init(self, slot: *mut T) -> Result<(), E> {
        // SAFETY: the caller guarantees `slot` is valid for writes.
        unsafe { slot.write(self) };
        Ok(())
    }
}

/// The signature a [`FnInit`] closure has (used for variance only).
type InitFn<T, E> = fn(*mut T) -> Result<(), E>;

/// A [`PinInit`] built from a closure; see [`pin_init_from_closure`].
pub struct FnInit<F, T, E> {
    f: F,
    _marker: PhantomData<InitFn<T, E>>,
}

impl<F, T, E> core::fmt::Debug for FnInit<F, T, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FnInit")
    }
}

// SAFETY: `pin_init_from_closure`'s caller promised that `f` follows the
// `PinInit` contract.
unsafe impl<F, T, E> PinInit<T, E> for FnInit<F, T, E>
where
    F: FnOnce(*mut T) -> Result<(), E>,
{
    #[inline]
    unsafe fn __pinned_init(self, slot: *mut T) -> Result<(), E> {
        (self.f)(slot)
    }
}

/// Turns a closure that initialises `*slot` into a [`PinInit`].
///
/// # Safety
///
/// `f` must follow the [`PinInit`] contract: given a valid, aligned,
/// uninitialised slot it either fully initialises it and returns `Ok(())`,
/// or returns `Err` with the slot uninitialised (having dropped whatever it
/// wrote); on success it must not rely on the value not moving unless `T`
/// really is going to be pinned, which [`InitBox`] guarantees.
#[inline]
pub const unsafe fn pin_init_from_closure<T, E, F>(f: F) -> FnInit<F, T, E>
where
    F: FnOnce(*mut T) -> Result<(), E>,
{
    FnInit {
        f,
        _marker: PhantomData,
    }
}

/// A [`PinInit`] from a fallible constructor returning the value: the value
/// is built on the stack, then moved into place.
pub fn try_init<T, E>(f: impl FnOnce() -> Result<T, E>) -> impl PinInit<T, E> {
    let init = move |slot: *mut T| {
        let value = f()?;
        // SAFETY: `PinInit` callers pass a slot valid for writes.
        unsafe { slot.write(value) };
        Ok(())
    };
    // SAFETY: the closure writes a whole `T` or returns the error without
    // touching the slot.
    unsafe { pin_init_from_closure(init) }
}

/// Error types that can stand for an allocation failure, so
/// [`InitBox::try_pin_init_in`] can report it through the initialiser's own
/// error type.
///
/// Implemented for every `E: From<AllocError>`, which includes
/// [`AllocError`] itself and [`NTSTATUS`](crate::NTSTATUS) (`STATUS_INSUFFICIENT_RESOURCES`).
pub trait FromAllocError {
    /// The error that reports `err`.
    fn from_alloc_error(err: AllocError) -> Self;
}

impl<E: From<AllocError>> FromAllocError for E {
    #[inline]
    fn from_alloc_error(err: AllocError) -> Self {
        E::from(err)
    }
}

/// Allocates pinned boxes of `T` initialised in place by a [`PinInit`].
///
/// The result is a `Pin<KBox<T, A>>`: the allocator lives in the block, as
/// for [`KBox`].
///
/// Every value is trivially a `PinInit` of itself, so an initialiser such
/// as the result of [`pin_init!`](crate::pin_init) is also a `PinInit` of
/// its own type: when the target type is not known from the context, name
/// it: `InitBox::<Device>::try_pin_init(init)`.
pub struct InitBox<T>(Infallible, PhantomData<fn() -> T>);

impl<T> core::fmt::Debug for InitBox<T> {
    fn fmt(&self, _: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {}
    }
}

impl<T> InitBox<T> {
    /// Allocates a block from `alloc` and runs `init` on it.
    ///
    /// * allocation failure: `E::from_alloc_error(AllocError)`, `init` is
    ///   not run (and is dropped);
    /// * `init` fails: the block is freed without running `T`'s destructor
    ///   and its error is returned;
    /// * `init` panics: the block is freed, then the panic continues.
    ///
    /// `A: 'static`, as for [`KBox::into_pin`]: a pinned value's memory
    /// must not be reused before its destructor runs, even if the box is
    /// leaked, and a borrowed allocator could be reset or dropped once the
    /// borrow ends. For `T: Unpin`, [`try_init_in`](Self::try_init_in)
    /// takes any allocator.
    pub fn try_pin_init_in<E, A, I>(init: I, alloc: A) -> Result<Pin<KBox<T, A>>, E>
    where
        A: Allocator + 'static,
        I: PinInit<T, E>,
        E: FromAllocError,
    {
        // SAFETY: the box is pinned at once, with a `'static` allocator.
        unsafe { Self::init_unpinned(init, alloc) }.map(KBox::into_pin)
    }

    /// Like [`try_pin_init_in`](Self::try_pin_init_in) for a `T: Unpin`,
    /// over any allocator, borrowed ones included: the value is not pinned
    /// (a `Pin` of an `Unpin` value promises nothing), so nothing depends
    /// on the allocator outliving a leaked box. Pin it with `Pin::new` if
    /// an API wants a `Pin`.
    ///
    /// ```
    /// use kcom::alloc::{Bump, InitBox};
    /// use kcom::{GlobalAllocator, NTSTATUS, pin_init};
    ///
    /// struct Rec { id: u32 }
    /// let bump = Bump::with_capacity_in(256, GlobalAllocator).unwrap();
    /// let r = InitBox::<Rec>::try_init_in(pin_init!(Rec { id: 7 }? NTSTATUS), &bump).unwrap();
    /// assert_eq!(r.id, 7);
    /// ```
    pub fn try_init_in<E, A, I>(init: I, alloc: A) -> Result<KBox<T, A>, E>
    where
        T: Unpin,
        A: Allocator,
        I: PinInit<T, E>,
        E: FromAllocError,
    {
        // SAFETY: `T: Unpin`, so the value may move once initialised.
        unsafe { Self::init_unpinned(init, alloc) }
    }

    /// The body of the initialising constructors: a box whose value `init`
    /// built in place.
    ///
    /// # Safety
    ///
    /// Unless `T: Unpin`, the caller must pin the box at once, and only
    /// with `A: 'static` ([`KBox::into_pin`]): `init` may rely on the value
    /// never moving before it is dropped in place.
    unsafe fn init_unpinned<E, A, I>(init: I, alloc: A) -> Result<KBox<T, A>, E>
    where
        A: Allocator,
        I: PinInit<T, E>,
        E: FromAllocError,
    {
        let inner = KBox::<T, A>::allocate_inner(alloc).map_err(E::from_alloc_error)?;

        /// Frees the block if `init` fails or panics.
        struct Free<T, A: Allocator>(*mut KBoxInner<T, A>);
        impl<T, A: Allocator> Drop for Free<T, A> {
            fn drop(&mut self) {
                // SAFETY: the block is live, its allocator initialised and
                // its value not (the initialiser failed or unwound).
                unsafe { KBox::<T, A>::free_block(self.0) }
            }
        }
        let guard = Free(inner.as_ptr());
        // SAFETY: the value field is valid for writes, aligned and
        // uninitialised; on success the value is owned by a box that the
        // caller pins (or whose `T` is `Unpin`), so it never moves before
        // being dropped in place unless moving it is allowed.
        unsafe { init.__pinned_init(ptr::addr_of_mut!((*inner.as_ptr()).value))? };
        let _ = ManuallyDrop::new(guard);
        // SAFETY: value and allocator are now initialised.
        Ok(unsafe { KBox::from_inner(inner) })
    }

    /// [`try_pin_init_in`](Self::try_pin_init_in) with [`GlobalAllocator`].
    pub fn try_pin_init<E, I>(init: I) -> Result<Pin<KBox<T>>, E>
    where
        I: PinInit<T, E>,
        E: FromAllocError,
    {
        Self::try_pin_init_in(init, GlobalAllocator)
    }

    /// For infallible initialisers: the only error is [`AllocError`].
    ///
    /// `A: 'static`, as for [`try_pin_init_in`](Self::try_pin_init_in).
    pub fn pin_init_in<A, I>(init: I, alloc: A) -> Result<Pin<KBox<T, A>>, AllocError>
    where
        A: Allocator + 'static,
        I: PinInit<T, Infallible>,
    {
        let init = move |slot: *mut T| {
            // SAFETY: forwarded: `slot` comes from `try_pin_init_in`.
            match unsafe { init.__pinned_init(slot) } {
                Ok(()) => Ok(()),
                Err(never) => match never {},
            }
        };
        // SAFETY: the closure forwards to an initialiser that upholds the
        // contract and cannot fail.
        Self::try_pin_init_in(
            unsafe { pin_init_from_closure::<T, AllocError, _>(init) },
            alloc,
        )
    }

    /// [`pin_init_in`](Self::pin_init_in) with [`GlobalAllocator`].
    pub fn pin_init<I>(init: I) -> Result<Pin<KBox<T>>, AllocError>
    where
        I: PinInit<T, Infallible>,
    {
        Self::pin_init_in(init, GlobalAllocator)
    }
}

/// Gives the closure of [`pin_init!`](crate::pin_init) the signature
/// `FnOnce(*mut T) -> Result<(), E>`, with `T` inferred at the call site (a
/// closure parameter type written with elided lifetimes would make it
/// higher-ranked). Not public API.
///
/// `f` must end in `Ok(K)`, where `K` is a type private to one expansion of
/// the macro that the field expressions cannot name (they see another type
/// of the same name): a field expression can fail with `Err` or `?`, but
/// cannot end the initialiser early with success, because there is no
/// success value it could return.
#[doc(hidden)]
#[inline(always)]
pub fn __init_closure<T, E, K, F>(f: F) -> impl FnOnce(*mut T) -> Result<(), E>
where
    F: FnOnce(*mut T) -> Result<K, E>,
{
    move |slot| f(slot).map(|_| ())
}

/// Drops an initialised field when the initialiser of a later field fails.
/// Used by [`pin_init!`](crate::pin_init); not public API.
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct __FieldGuard<'a, F> {
    field: *mut F,
    done: &'a core::cell::Cell<bool>,
}

impl<'a, F> __FieldGuard<'a, F> {
    /// # Safety
    ///
    /// `field` must point to an initialised field that nothing else drops
    /// unless `done` is set before the guard drops.
    #[doc(hidden)]
    #[inline]
    pub unsafe fn new(field: *mut F, done: &'a core::cell::Cell<bool>) -> Self {
        Self { field, done }
    }
}

impl<F> Drop for __FieldGuard<'_, F> {
    #[inline]
    fn drop(&mut self) {
        if !self.done.get() {
            // SAFETY: `new`'s contract: the field is initialised and owned
            // by this guard until `done` is set.
            unsafe { ptr::drop_in_place(self.field) };
        }
    }
}

/// Builds a [`PinInit`] for a struct, field by field, in place.
///
/// ```text
/// pin_init!(Path { field: expr, field <- initializer, ... })            // E = Infallible
/// pin_init!(Path { field: expr, field <- initializer, ... }? ErrorType)
/// pin_init!(Path::<Generics> { ... })
/// ```
///
/// * `field: expr` evaluates `expr` and writes the value into the field.
/// * `field <- init` runs `init: impl PinInit<FieldType, ErrorType>` on the
///   field (a plain value is such an initialiser too).
/// * Fields are initialised in the order written; every field must appear
///   exactly once (checked at compile time). Expressions may use `?` and
///   `return Err(..)` with `ErrorType`.
/// * If an expression or initialiser fails, the fields initialised so far
///   are dropped (in reverse order) and the error is returned; the struct's
///   own `Drop` never runs.
/// * `#[repr(packed)]` structs are rejected at compile time.
/// * The expressions run when the initialiser runs (after the memory is
///   allocated), inside a `move` closure: they capture what they use by
///   value, like any `move` closure.
///
/// Every field must be listed:
///
/// ```compile_fail,E0063
/// struct P { x: u8, y: u8 }
/// let _ = kcom::pin_init!(P { x: 1 });
/// ```
///
/// Packed structs are refused (their fields may be unaligned):
///
/// ```compile_fail,E0793
/// #[repr(C, packed)]
/// struct P { a: u8, b: u32 }
/// let _ = kcom::pin_init!(P { a: 1, b: 2 });
/// ```
#[macro_export]
macro_rules! pin_init {
    ($($p:ident)::+ $(::<$($g:ty),+ $(,)?>)? { $($fields:tt)* } $(? $err:ty)?) => {
        $crate::__pin_init_impl!(@err [$($err)?] [$($p)::+ $(::<$($g),+>)?] { $($fields)* })
    };
}

/// Like [`pin_init!`](crate::pin_init), but the field expressions may
/// `.await` (feature `async-com`).
///
/// The fields' code runs on the calling thread on kcom's blocking executor
/// ([`async_com::block_on`](crate::async_com::block_on)): the thread blocks
/// (it does not spin) until the future's waker fires. Executor failures
/// (waker allocation, IRQL at or above DISPATCH_LEVEL in driver builds, the
/// debug watchdog) become the initialiser's error through
/// [`FromExecutorError`](crate::async_com::FromExecutorError), so the error
/// type defaults to `NTSTATUS` instead of `Infallible`; fields written before
/// a failure are dropped. Call it at PASSIVE_LEVEL, and never await
/// something that needs the calling thread.
///
/// ```
/// use kcom::alloc::InitBox;
/// use kcom::{NTSTATUS, pin_init_async};
///
/// async fn read_config() -> Result<u32, NTSTATUS> {
///     Ok(42)
/// }
///
/// struct Dev {
///     config: u32,
///     ready: bool,
/// }
///
/// let init = pin_init_async!(Dev { config: read_config().await?, ready: true }? NTSTATUS);
/// let dev = InitBox::<Dev>::try_pin_init(init).unwrap();
/// assert_eq!((dev.config, dev.ready), (42, true));
/// ```
#[cfg(feature = "async-com")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-com")))]
#[macro_export]
macro_rules! pin_init_async {
    ($($p:ident)::+ $(::<$($g:ty),+ $(,)?>)? { $($fields:tt)* } $(? $err:ty)?) => {
        $crate::__pin_init_impl!(@err_async [$($err)?] [$($p)::+ $(::<$($g),+>)?] { $($fields)* })
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __pin_init_impl {
    // The field expressions run inside a block that declares its own
    // `__InitOk`, shadowing the one the closure must return: only the code
    // after that block, which runs once every field is written, can produce
    // the success value. `return Ok(..)` in a field expression is a type
    // error; `?` and `return Err(..)` still work.
    (@err_async [] [$($t:tt)*] { $($fields:tt)* }) => {
        $crate::__pin_init_impl!(@go_async [$crate::NTSTATUS] [$($t)*] { $($fields)* })
    };
    (@err_async [$err:ty] [$($t:tt)*] { $($fields:tt)* }) => {
        $crate::__pin_init_impl!(@go_async [$err] [$($t)*] { $($fields)* })
    };
    (@go_async [$err:ty] [$($t:tt)*] { $($fields:tt)* }) => {{
        struct __InitOk;
        #[allow(unreachable_code, clippy::diverging_sub_expression, unused_variables)]
        let __init = $crate::alloc::init::__init_closure::<$($t)*, $err, __InitOk, _>(move |__slot| {
            if false {
                let __v: $($t)* = $crate::__pin_init_impl!(@check [$($t)*]; []; $($fields)*);
                $crate::__pin_init_impl!(@refs __v; $($fields)*);
            }
            $crate::alloc::init::__block_on(async move {
                {
                    #[allow(dead_code)]
                    struct __InitOk;
                    let __done = ::core::cell::Cell::new(false);
                    $crate::__pin_init_impl!(@fields __slot, __done, [$err]; $($fields)*);
                    __done.set(true);
                }
                ::core::result::Result::<__InitOk, $err>::Ok(__InitOk)
            })
        });
        // SAFETY: as for `pin_init!`: the future writes every field in
        // place or drops the ones it wrote and returns the error; it cannot
        // complete with success before the last field is written.
        unsafe { $crate::alloc::pin_init_from_closure::<$($t)*, $err, _>(__init) }
    }};
    (@err [] [$($t:tt)*] { $($fields:tt)* }) => {
        $crate::__pin_init_impl!(@go [::core::convert::Infallible] [$($t)*] { $($fields)* })
    };
    (@err [$err:ty] [$($t:tt)*] { $($fields:tt)* }) => {
        $crate::__pin_init_impl!(@go [$err] [$($t)*] { $($fields)* })
    };
    (@go [$err:ty] [$($t:tt)*] { $($fields:tt)* }) => {{
        struct __InitOk;
        #[allow(unreachable_code, clippy::diverging_sub_expression, unused_variables)]
        let __init = $crate::alloc::init::__init_closure::<$($t)*, $err, __InitOk, _>(move |__slot| {
            // Compile-time checks, never run: every field listed exactly
            // once, and no field of a packed struct (references to fields
            // of a `#[repr(packed)]` struct are rejected).
            if false {
                let __v: $($t)* = $crate::__pin_init_impl!(@check [$($t)*]; []; $($fields)*);
                $crate::__pin_init_impl!(@refs __v; $($fields)*);
            }
            {
                #[allow(dead_code)]
                struct __InitOk;
                let __done = ::core::cell::Cell::new(false);
                $crate::__pin_init_impl!(@fields __slot, __done, [$err]; $($fields)*);
                __done.set(true);
            }
            ::core::result::Result::Ok(__InitOk)
        });
        // SAFETY: the closure writes every field of the struct (checked
        // above) in place, or drops the fields it wrote and returns the
        // error; fields are only written through raw pointers. It cannot
        // return success before the last field is written: its success
        // value is of a type the field expressions cannot name.
        unsafe { $crate::alloc::pin_init_from_closure::<$($t)*, $err, _>(__init) }
    }};

    (@fields $slot:ident, $done:ident, [$err:ty];) => {};
    (@fields $slot:ident, $done:ident, [$err:ty]; $f:ident : $e:expr $(, $($rest:tt)*)?) => {
        let __value = $e;
        // SAFETY: `$slot` is the `PinInit` slot: valid and aligned for the
        // struct, so the field is valid for writes (and aligned: packed
        // structs are rejected).
        let __field = unsafe { ::core::ptr::addr_of_mut!((*$slot).$f) };
        // SAFETY: as above; the field is uninitialised.
        unsafe { __field.write(__value) };
        // SAFETY: the field is initialised; the guard drops it unless the
        // whole struct gets initialised.
        let __guard = unsafe { $crate::alloc::__FieldGuard::new(__field, &$done) };
        $crate::__pin_init_impl!(@fields $slot, $done, [$err]; $($($rest)*)?);
    };
    (@fields $slot:ident, $done:ident, [$err:ty]; $f:ident <- $e:expr $(, $($rest:tt)*)?) => {
        let __init = $e;
        // SAFETY: as for `field: expr`.
        let __field = unsafe { ::core::ptr::addr_of_mut!((*$slot).$f) };
        // SAFETY: the field is valid for writes, aligned, uninitialised, and
        // pinned if the struct is.
        let __result = unsafe { $crate::alloc::PinInit::<_, $err>::__pinned_init(__init, __field) };
        if let ::core::result::Result::Err(e) = __result {
            return ::core::result::Result::Err(e);
        }
        // SAFETY: the initialiser succeeded: the field is initialised.
        let __guard = unsafe { $crate::alloc::__FieldGuard::new(__field, &$done) };
        $crate::__pin_init_impl!(@fields $slot, $done, [$err]; $($($rest)*)?);
    };

    (@check [$($t:tt)*]; [$($done:ident)*];) => {
        $($t)* { $($done: ::core::panic!()),* }
    };
    (@check [$($t:tt)*]; [$($done:ident)*]; $f:ident : $e:expr $(, $($rest:tt)*)?) => {
        $crate::__pin_init_impl!(@check [$($t)*]; [$($done)* $f]; $($($rest)*)?)
    };
    (@check [$($t:tt)*]; [$($done:ident)*]; $f:ident <- $e:expr $(, $($rest:tt)*)?) => {
        $crate::__pin_init_impl!(@check [$($t)*]; [$($done)* $f]; $($($rest)*)?)
    };

    (@refs $v:ident;) => {};
    (@refs $v:ident; $f:ident : $e:expr $(, $($rest:tt)*)?) => {
        let _ = &$v.$f;
        $crate::__pin_init_impl!(@refs $v; $($($rest)*)?);
    };
    (@refs $v:ident; $f:ident <- $e:expr $(, $($rest:tt)*)?) => {
        let _ = &$v.$f;
        $crate::__pin_init_impl!(@refs $v; $($($rest)*)?);
    };
}

/// Drives an async initialiser on kcom's blocking executor; executor
/// failures become `E`. Used by [`pin_init_async!`](crate::pin_init_async);
/// not public API.
#[cfg(feature = "async-com")]
#[doc(hidden)]
pub fn __block_on<F, K, E>(fut: F) -> Result<K, E>
where
    F: core::future::Future<Output = Result<K, E>>,
    E: crate::async_com::FromExecutorError,
{
    match crate::async_com::block_on(fut) {
        Ok(result) => result,
        Err(status) => Err(E::from_executor_error(status)),
    }
}

#[cfg(all(test, feature = "async-com"))]
mod async_tests {
    use super::*;
    use crate::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};
    use core::cell::Cell;
    use core::future::Future;
    use core::task::{Context, Poll};

    /// Pending `n` times (waking itself each time), then ready with `v`.
    struct Yield<T> {
        n: u32,
        v: Option<T>,
    }
    impl<T: Unpin> Future for Yield<T> {
        type Output = T;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
            if self.n == 0 {
                Poll::Ready(self.v.take().expect("polled after completion"))
            } else {
                self.n -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    struct Counted<'a>(&'a Cell<u32>);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    struct Two<'a> {
        a: Counted<'a>,
        b: u32,
    }

    #[test]
    fn awaits_fields_in_order() {
        let drops = Cell::new(0);
        let d = &drops;
        let init = crate::pin_init_async!(Two {
            a: Yield {
                n: 3,
                v: Some(Counted(d))
            }
            .await,
            b: Yield {
                n: 2,
                v: Some(7u32)
            }
            .await,
        });
        let b = InitBox::<Two<'_>>::try_pin_init(init).unwrap();
        assert_eq!(b.b, 7);
        assert_eq!(drops.get(), 0);
        core::mem::drop(b);
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn failure_after_an_await_drops_earlier_fields() {
        let drops = Cell::new(0);
        let d = &drops;
        let init = crate::pin_init_async!(Two {
            a: Yield { n: 1, v: Some(Counted(d)) }.await,
            b: Yield { n: 1, v: Some(Err::<u32, NTSTATUS>(STATUS_INSUFFICIENT_RESOURCES)) }.await?,
        }? NTSTATUS);
        let r = InitBox::<Two<'_>>::try_pin_init(init);
        assert_eq!(r.err(), Some(STATUS_INSUFFICIENT_RESOURCES));
        assert_eq!(drops.get(), 1, "the initialised field was dropped once");
    }
}
