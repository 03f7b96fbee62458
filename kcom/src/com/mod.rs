//! The COM runtime: identifiers, status codes, `IUnknown`, objects and
//! smart pointers.
//!
//! Declare interfaces with [`declare_com_interface!`](crate::declare_com_interface),
//! implement them with [`implement_com!`](crate::implement_com) (or by hand
//! with [`ComImpl`] and [`impl_com_object!`](crate::impl_com_object)), and
//! hold references with [`ComRc`] (any object, through its vtable) or
//! [`ClassRc`] (an object whose class the holder knows, counted in place).

pub mod class_rc;
pub mod failfast;
pub mod guid;
pub mod interface;
pub mod object;
pub mod rc;
pub mod status;
pub mod unknown;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use class_rc::ClassRc;
pub use failfast::{FailFastReason, KCOM_BUGCHECK_CODE, fail_fast};
pub use interface::{ComInterface, ComInterfaceInfo, ThreadSafeInterface};
pub use object::{ComClass, ComImpl, ComObject, MAX_REFCOUNT};
pub use rc::ComRc;
pub use unknown::{IUnknown, IUnknownInterface, IUnknownVtbl};
