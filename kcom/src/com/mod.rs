//! The COM runtime: identifiers, status codes, `IUnknown`, objects and
//! smart pointers.

pub mod guid;
pub mod status;
