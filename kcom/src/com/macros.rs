//! The user-facing COM macros.

/// Declares a COM interface.
///
/// ```
/// use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS};
///
/// declare_com_interface! {
///     /// Says hello.
///     pub trait IGreeter: IUnknown + Send + Sync {
///         const IID: GUID = kcom::guid!("3b0e0f7c-6f7d-4a43-9a66-5c1f0a1b2c3d");
///
///         /// Returns `STATUS_SUCCESS` for any non-zero value.
///         fn greet(&self, value: u32) -> NTSTATUS;
///         /// `Result<(), NTSTATUS>` maps `Ok` to `STATUS_SUCCESS`.
///         fn check(&self) -> Result<(), NTSTATUS>;
///         /// `Result<T, NTSTATUS>` returns `T` through an out pointer.
///         fn count(&self) -> Result<u64, NTSTATUS>;
///     }
/// }
/// ```
///
/// For `trait IFoo: IParent`, it generates:
///
/// * the Rust trait `IFoo: IParent` to implement (add `+ Send + Sync` to
///   declare the interface thread-safe: implementers must then be
///   `Send + Sync`, and `ComRc<IFooInterface>` is `Send + Sync`);
/// * `IFooVtbl`: `#[repr(C)]`, `Copy`, `parent: IParentVtbl` first, then one
///   `unsafe extern "system"` entry per method returning `NTSTATUS`
///   (methods returning `Result<T, NTSTATUS>` get a trailing `*mut T` out
///   parameter, written only on success);
/// * `IFooInterface`: implements [`ComInterfaceInfo`](crate::ComInterfaceInfo)
///   (the `IID`) and carries safe client-side methods, reached through
///   [`ComRc<IFooInterface>`](crate::ComRc);
/// * `shim_IFoo_<method>::<T>`: the shims for hand-written vtables.
///
/// Method arguments must be `Copy` and FFI-safe; `async fn` methods need
/// kcom's `async-com` feature.
///
/// `IUnknown` as the parent and `GUID` as the type of the IID may be written
/// without importing them, as kcom's README examples do
/// (`use kcom::{declare_com_interface, NTSTATUS};` is enough); an import of
/// your own takes precedence.
///
/// # Interface ids
///
/// Every interface needs an IID of its own: `QueryInterface` answers an IID
/// with the interface it names, for every caller, C ones included. Three
/// checks run at compile time:
///
/// * an interface's IID must differ from the IIDs of all its ancestors
///   (its parent, …, `IUnknown`);
/// * it must not be [`KCOM_OBJECT_IID`](crate::com::object::KCOM_OBJECT_IID),
///   which kcom's objects answer for their typed queries;
/// * [`implement_com!`](crate::implement_com) rejects an object whose
///   interfaces, or their ancestors, share an IID without being the same
///   interface.
///
/// Interfaces that never meet in one object cannot be checked against each
/// other, so the safe [`ComRc::query_interface`](crate::ComRc::query_interface)
/// does not go by the IID: it asks kcom's objects for the interface's Rust
/// type, and gets `STATUS_NOINTERFACE` from an object that has another
/// interface with the same IID. A C caller's `QueryInterface` can only go by
/// the IID: generate each IID fresh (`uuidgen`), never copy one.
///
/// ```compile_fail,E0080
/// use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS};
///
/// declare_com_interface! {
///     // IUnknown's own IID: refused.
///     pub trait IBad: IUnknown {
///         const IID: GUID = kcom::guid!("00000000-0000-0000-c000-000000000046");
///         fn get(&self) -> NTSTATUS;
///     }
/// }
/// ```
///
/// ```compile_fail,E0080
/// use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS};
///
/// declare_com_interface! {
///     // The IID kcom's objects answer for typed queries: refused.
///     pub trait IBad: IUnknown {
///         const IID: GUID = kcom::com::object::KCOM_OBJECT_IID;
///         fn get(&self) -> NTSTATUS;
///     }
/// }
/// ```
#[macro_export]
macro_rules! declare_com_interface {
    ($($tt:tt)*) => {
        $crate::com::__private::__declare_com_interface! { [$crate] $($tt)* }
    };
}

/// Implements declared interfaces for a type in one line: vtables,
/// `QueryInterface` and the `IUnknown` plumbing are generated.
///
/// ```
/// use kcom::{declare_com_interface, implement_com, ComClass, GUID, IUnknown, NTSTATUS};
///
/// declare_com_interface! {
///     pub trait ICounter: IUnknown {
///         const IID: GUID = kcom::guid!("b1f1a0d2-0d5e-4c51-8f37-2f0d8e6a7c11");
///         fn get(&self) -> Result<u32, NTSTATUS>;
///     }
/// }
/// declare_com_interface! {
///     pub trait INamed: IUnknown {
///         const IID: GUID = kcom::guid!("b1f1a0d2-0d5e-4c51-8f37-2f0d8e6a7c12");
///         fn name_len(&self) -> Result<u32, NTSTATUS>;
///     }
/// }
///
/// struct Counter(u32);
/// impl ICounter for Counter {
///     fn get(&self) -> Result<u32, NTSTATUS> { Ok(self.0) }
/// }
/// impl INamed for Counter {
///     fn name_len(&self) -> Result<u32, NTSTATUS> { Ok(7) }
/// }
/// implement_com!(Counter: ICounter, INamed);
///
/// let counter = Counter::try_create(Counter(5)).unwrap();
/// assert_eq!(counter.get(), Ok(5));
/// let named = counter.query_interface::<INamedInterface>().unwrap();
/// assert_eq!(named.name_len(), Ok(7));
/// assert!(named.same_object(&counter));
/// ```
///
/// Generic types take their parameters after `impl`:
/// `implement_com!(impl<T: Bound> Wrapper<T>: IFoo)`.
///
/// The first interface is the primary one (the object's base pointer);
/// every further one gets its own interface pointer into the same object.
/// All share one reference count, and `QueryInterface` for `IUnknown` from
/// any of them returns the base pointer (COM identity). `QueryInterface`
/// for an ancestor returns the first listed interface that has it.
///
/// Each listed `IBar` stands for the trait `IBar`, its `IBarInterface` and its
/// `IBarVtbl`, resolved where the macro is called: all three must come from
/// one declaration (`use v1::{IBar, IBarInterface, IBarVtbl}`, or a path,
/// `v1::IBar`). A vtable from another declaration is a type error.
///
/// Two listed interfaces that share an IID, or whose ancestors do (other
/// than a common ancestor), are a compile error: `QueryInterface` could not
/// tell them apart.
#[macro_export]
macro_rules! implement_com {
    ($($tt:tt)*) => {
        $crate::com::__private::__implement_com! { [$crate] $($tt)* }
    };
}

/// Gives a type with a hand-written `ComImpl<Vtbl>` its constructors:
/// `new_com`, `try_new_com`, `new_com_in` and `try_new_com_in`, each
/// returning the object's primary interface pointer with one reference.
///
/// `new_com*` fail fast if the allocation fails; `try_new_com*` return
/// `Err(STATUS_INSUFFICIENT_RESOURCES)`. Objects made `_in` an allocator are
/// freed by that allocator, which must not hand out pageable memory
/// (`try_new_com_in` returns `Err(STATUS_INVALID_PARAMETER)`, `new_com_in`
/// panics; see [`Allocator::pageable`](crate::Allocator::pageable)), and
/// must be `Send + 'static`: the last Release, on any thread and at any
/// time, frees the object through it (see
/// [`ComObject::try_new_in`](crate::ComObject::try_new_in)).
#[macro_export]
macro_rules! impl_com_object {
    ($ty:ty, $vtbl:ty $(,)?) => {
        #[allow(dead_code)]
        impl $ty {
            /// Creates a COM object with `GlobalAllocator`; fails fast if
            /// the allocation fails. Returns the primary interface pointer
            /// holding one reference.
            pub fn new_com(value: Self) -> *mut ::core::ffi::c_void {
                $crate::ComObject::<$ty, $vtbl>::new(value)
            }

            /// Creates a COM object with `GlobalAllocator`, or returns
            /// `STATUS_INSUFFICIENT_RESOURCES`.
            pub fn try_new_com(
                value: Self,
            ) -> ::core::result::Result<*mut ::core::ffi::c_void, $crate::NTSTATUS> {
                $crate::ComObject::<$ty, $vtbl>::try_new(value)
            }

            /// Creates a COM object in `alloc` (which will free it); fails
            /// fast if the allocation fails.
            pub fn new_com_in<A: $crate::Allocator + ::core::marker::Send + 'static>(
                value: Self,
                alloc: A,
            ) -> *mut ::core::ffi::c_void {
                $crate::ComObject::<$ty, $vtbl, A>::new_in(value, alloc)
            }

            /// Creates a COM object in `alloc` (which will free it), or
            /// returns `STATUS_INSUFFICIENT_RESOURCES`.
            pub fn try_new_com_in<A: $crate::Allocator + ::core::marker::Send + 'static>(
                value: Self,
                alloc: A,
            ) -> ::core::result::Result<*mut ::core::ffi::c_void, $crate::NTSTATUS> {
                $crate::ComObject::<$ty, $vtbl, A>::try_new_in(value, alloc)
            }
        }
    };
}

#[cfg(feature = "async-com")]
#[doc(hidden)]
#[macro_export]
macro_rules! __kcom_require_async_com {
    () => {};
}

/// Without the `async-com` feature an `async fn` in an interface is a
/// compile error that names the feature:
///
/// ```compile_fail
/// kcom::declare_com_interface! {
///     pub trait IFoo: kcom::IUnknown {
///         const IID: kcom::GUID = kcom::guid!("00000001-0000-0000-0000-000000000001");
///         async fn init(&self) -> kcom::NTSTATUS;
///     }
/// }
/// ```
#[cfg(not(feature = "async-com"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __kcom_require_async_com {
    () => {
        ::core::compile_error!(
            "async COM methods need kcom's `async-com` feature: enable it on the kcom dependency"
        );
    };
}
