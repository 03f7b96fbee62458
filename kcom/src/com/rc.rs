//! `ComRc<I>`: an owning, reference-counted interface pointer.

use core::any::TypeId;
use core::ffi::c_void;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::{self, NonNull};

use super::interface::{ComInterface, ComInterfaceInfo, ThreadSafeInterface};
use super::object::{InterfaceType, query_typed};
use super::unknown::{IUnknownInterface, IUnknownVtbl};
use crate::{NTSTATUS, STATUS_NOINTERFACE, nt_success};

/// An owned reference to interface `I` of a COM object.
///
/// `Clone` is `AddRef`, `Drop` is `Release`, and it dereferences to `I`,
/// whose generated methods call through the vtable safely:
/// `rc.ping(42)`. It is `Send + Sync` when `I` was declared `Send + Sync`.
#[repr(transparent)]
pub struct ComRc<I: ComInterface> {
    ptr: NonNull<c_void>,
    _marker: PhantomData<I>,
}

impl<I: ComInterface> ComRc<I> {
    /// Takes ownership of one reference held by `ptr`; `None` if null.
    ///
    /// # Safety
    ///
    /// `ptr` must be null or a pointer to interface `I` of a live COM object
    /// that implements it (vtable of type `I::Vtbl`, `IUnknown` rules), and
    /// the caller must own the reference it gives up. If `I` is
    /// [`ThreadSafeInterface`], the object must allow use from any thread.
    ///
    /// Dropping the `ComRc` may release the last reference, which frees
    /// the object on the dropping thread: whatever the object needs for
    /// that (for a kcom object, the allocator it was created in) must be
    /// alive until the last reference is released and usable from the
    /// thread that releases it. Objects from kcom's safe constructors meet
    /// this (their allocators are `Send + 'static`).
    ///
    /// [`query_interface`](Self::query_interface) reads the header of any
    /// object that answers `QueryInterface` for
    /// [`KCOM_OBJECT_IID`](super::object::KCOM_OBJECT_IID): only objects kcom
    /// made may answer it. For an object made from a hand-written
    /// [`ComImpl<V>`](super::ComImpl), the vtable `V` must hold shims for the
    /// object's own value type: `query_interface` hands the object out as any
    /// interface whose vtable type is `V`.
    pub unsafe fn from_raw(ptr: *mut c_void) -> Option<Self> {
        // SAFETY: forwarded contract.
        NonNull::new(ptr).map(|p| unsafe { Self::from_raw_nonnull(p) })
    }

    /// Like [`from_raw`](Self::from_raw) for a non-null pointer.
    ///
    /// # Safety
    ///
    /// As for [`from_raw`](Self::from_raw).
    pub unsafe fn from_raw_nonnull(ptr: NonNull<c_void>) -> Self {
        ComRc {
            ptr,
            _marker: PhantomData,
        }
    }

    /// Takes a *new* reference (AddRef) to a borrowed pointer; `None` if null.
    ///
    /// # Safety
    ///
    /// As for [`from_raw`](Self::from_raw), except that the caller keeps its
    /// own reference.
    pub unsafe fn from_raw_add_ref(ptr: *mut c_void) -> Option<Self> {
        let p = NonNull::new(ptr)?;
        // SAFETY: a live interface pointer (contract) whose vtable starts
        // with `IUnknownVtbl`.
        unsafe { (unknown_vtbl(p).AddRef)(p.as_ptr()) };
        // SAFETY: we now own the reference just added.
        Some(unsafe { Self::from_raw_nonnull(p) })
    }

    /// Gives up ownership without releasing; returns the raw pointer.
    pub fn into_raw(self) -> *mut c_void {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }

    /// The raw interface pointer (still owned by `self`).
    pub fn as_raw(&self) -> *mut c_void {
        self.ptr.as_ptr()
    }

    /// The object's interface `J`: a new reference, or
    /// `STATUS_NOINTERFACE`.
    ///
    /// An IID does not prove which interface a pointer has (two interfaces
    /// in different objects may be declared with the same IID), so this asks
    /// by `J`'s Rust type: objects made by kcom know the type of every
    /// interface they have, and answer `J` only with a slot that has `J` or
    /// derives from it. `IUnknownInterface` is asked for by IID, which any
    /// COM object answers. For any other interface of an object kcom did
    /// not make (a foreign COM object), use the unsafe
    /// [`query_interface_unchecked`](Self::query_interface_unchecked).
    pub fn query_interface<J: ComInterface>(&self) -> Result<ComRc<J>, NTSTATUS> {
        if TypeId::of::<J>() == TypeId::of::<IUnknownInterface>() {
            // SAFETY: every COM object answers IUnknown's IID with its
            // identity, an interface pointer whose vtable starts with
            // `IUnknownVtbl` (the `from_raw` contract's `IUnknown` rules), and
            // no declared interface may use that IID.
            return unsafe { self.query_interface_unchecked::<J>() };
        }
        // SAFETY: `self.ptr` is a live interface pointer whose object answers
        // `KCOM_OBJECT_IID` only if kcom made it (the `from_raw` contract).
        let p = unsafe { query_typed(self.ptr, &InterfaceType::of::<J>()) }?;
        // SAFETY: a referenced pointer to a slot of the same object whose
        // interface is `J` or derives from it (the typed query's answer), so
        // its vtable starts with `J::Vtbl`. Its threading is the object's
        // (upheld when `self` was made).
        Ok(unsafe { ComRc::from_raw_nonnull(p) })
    }

    /// `QueryInterface` for `J::IID`, trusting the answer to be `J`: a new
    /// reference on success, `STATUS_NOINTERFACE` (or the object's error)
    /// otherwise. For objects kcom did not make; kcom's own answer
    /// [`query_interface`](Self::query_interface).
    ///
    /// # Safety
    ///
    /// The object must answer `J::IID` only with an interface pointer whose
    /// vtable starts with `J::Vtbl`, of an interface `J`'s threading allows
    /// (as for [`from_raw`](Self::from_raw)): the IID must name `J`, not
    /// another interface declared with the same IID.
    pub unsafe fn query_interface_unchecked<J: ComInterface>(&self) -> Result<ComRc<J>, NTSTATUS> {
        let mut out: *mut c_void = ptr::null_mut();
        // SAFETY: `self.ptr` is live; the IID and `out` are valid locals.
        let status = unsafe {
            (unknown_vtbl(self.ptr).QueryInterface)(
                self.ptr.as_ptr(),
                &<J as ComInterfaceInfo>::IID,
                &mut out,
            )
        };
        if !nt_success(status) {
            return Err(status);
        }
        // SAFETY: a successful QueryInterface returns a referenced pointer of
        // the same object, which is `J` by the caller's contract.
        unsafe { ComRc::from_raw(out) }.ok_or(STATUS_NOINTERFACE)
    }

    /// The object's identity: its `IUnknown` pointer. Two references are to
    /// the same object exactly when their identities are equal.
    pub fn identity(&self) -> Result<ComRc<IUnknownInterface>, NTSTATUS> {
        self.query_interface::<IUnknownInterface>()
    }

    /// True if both references are to the same object (COM identity rule).
    pub fn same_object<J: ComInterface>(&self, other: &ComRc<J>) -> bool {
        match (self.identity(), other.identity()) {
            (Ok(a), Ok(b)) => a.ptr == b.ptr,
            _ => false,
        }
    }
}

/// # Safety
///
/// `p` must be a live interface pointer.
#[inline]
fn unknown_vtbl<'a>(p: NonNull<c_void>) -> &'a IUnknownVtbl {
    // SAFETY: every COM interface pointer points to a vtable pointer whose
    // vtable starts with `IUnknownVtbl`; `ComRc` only holds live pointers.
    unsafe { &**(p.as_ptr() as *const *const IUnknownVtbl) }
}

impl<I: ComInterface> Clone for ComRc<I> {
    /// `AddRef`.
    fn clone(&self) -> Self {
        // SAFETY: `self` owns a reference, so the object is alive.
        unsafe { (unknown_vtbl(self.ptr).AddRef)(self.ptr.as_ptr()) };
        ComRc {
            ptr: self.ptr,
            _marker: PhantomData,
        }
    }
}

impl<I: ComInterface> Drop for ComRc<I> {
    /// `Release`.
    fn drop(&mut self) {
        // SAFETY: `self` owns exactly one reference, given up here.
        unsafe { (unknown_vtbl(self.ptr).Release)(self.ptr.as_ptr()) };
    }
}

impl<I: ComInterface> Deref for ComRc<I> {
    type Target = I;
    fn deref(&self) -> &I {
        // SAFETY: `I` is transparent over a non-null pointer (the
        // `ComInterface` contract), as is `self.ptr`; the reference lives no
        // longer than `self`, which keeps the object alive.
        unsafe { &*(&self.ptr as *const NonNull<c_void> as *const I) }
    }
}

impl<I: ComInterface> fmt::Debug for ComRc<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComRc")
            .field("iid", &<I as ComInterfaceInfo>::IID)
            .field("ptr", &self.ptr)
            .finish()
    }
}

// SAFETY: `ThreadSafeInterface` means every implementation is `Send + Sync`
// (the declared trait requires it), so the object may be used and released
// from any thread; the count is atomic.
unsafe impl<I: ThreadSafeInterface> Send for ComRc<I> {}
// SAFETY: as above; `&ComRc` only allows `&self` method calls and AddRef.
unsafe impl<I: ThreadSafeInterface> Sync for ComRc<I> {}
