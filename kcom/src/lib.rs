// The crate's documentation is its README (kept once; its examples run as
// doctests).
#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

extern crate alloc as std_alloc;
// The host executor of async COM methods parks threads, which needs `std`;
// user-mode builds that enable `async-com` have it.
#[cfg(all(feature = "async-com", not(feature = "driver")))]
extern crate std;
// The macros name `::kcom::…` only through `$crate`; this lets the crate's own
// tests use the same paths as users.
extern crate self as kcom;

pub mod alloc;
#[cfg(feature = "async-com")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-com")))]
pub mod async_com;
pub mod com;
#[macro_use]
#[path = "com/macros.rs"]
mod macros;

/// `#[kcom::async_impl]` (feature `async-impl`): write `async fn` in an
/// `impl IFoo for T` block; each becomes the boxed-future method the
/// interface declares.
#[cfg(feature = "async-impl")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-impl")))]
pub use kcom_macros::__async_impl as async_impl;

pub use crate::alloc::{
    AllocError, InitBox, KBox, PinInit, PoolType, WdkAllocator, init_ex_allocate_pool2,
};
pub use crate::alloc::{
    Allocator, GlobalAllocator, NonPagedAllocator, dealloc_slice_in, dealloc_value_in,
};
pub use crate::com::guid::{GUID, GuidParseError};
pub use crate::com::status::*;
pub use crate::com::{
    ClassRc, ComClass, ComImpl, ComInterface, ComInterfaceInfo, ComObject, ComRc, IUnknown,
    IUnknownInterface, IUnknownVtbl, ThreadSafeInterface,
};
