//! `kcom`: a `no_std` zero-copy COM runtime and allocator toolkit for
//! Windows kernel drivers.
//!
//! * [`com`]: `GUID`, `NTSTATUS`, `IUnknown`, the interface macros,
//!   `ComObject` and `ComRc`.
//! * [`alloc`]: the [`Allocator`] trait, [`GlobalAllocator`], the kernel
//!   pool allocator `WdkAllocator` (simulated on the host), allocation
//!   strategies, `KBox` and `InitBox`.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

extern crate alloc as std_alloc;
// The macros name `::kcom::…` only through `$crate`; this lets the crate's own
// tests use the same paths as users.
extern crate self as kcom;

pub mod alloc;
pub mod com;

pub use crate::alloc::{
    AllocError, InitBox, KBox, PinInit, PoolType, WdkAllocator, init_ex_allocate_pool2,
};
pub use crate::alloc::{Allocator, GlobalAllocator, dealloc_slice_in, dealloc_value_in};
pub use crate::com::guid::{GUID, GuidParseError};
pub use crate::com::status::*;
