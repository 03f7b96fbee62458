//! The Windows kernel definitions that several crates of this workspace
//! print or compare: `NTSTATUS` values with their symbolic names
//! ([`status`]), `NT_SUCCESS` ([`nt_success`]) and pool tags as
//! `!poolused` prints them ([`PoolTag`]).
//!
//! It is a leaf crate, with no dependencies, `no_std` and without an
//! allocator (unless the `alloc` feature asks for [`tag_text`]), so every
//! layer can use it: kcom (the `no_std` runtime, which re-exports the
//! statuses as `kcom::STATUS_*`), kcomctl, and kmdf-host together with its
//! fixture drivers. kmdf-host runs any KMDF driver, so it must not depend on
//! the sample driver's crates or on kcom; this crate is what they have in
//! common. Each value is written once, in the table below, with the name
//! `ntstatus.h` (or KMDF's `wdfstatus.h`) gives it.
#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

use core::fmt;

pub mod status;

pub use self::status::{NTSTATUS, nt_success, status_name};

/// A pool tag as `!poolused` and Driver Verifier print it: its four bytes
/// in memory order (`u32::from_le_bytes(*b"kcom")` prints `kcom`), or
/// `0x%08X` when one of them is not printable ASCII. The high bit
/// (`PROTECTED_POOL`, which `ExFreePoolWithTag` ignores in the comparison)
/// is left out of the characters.
///
/// ```
/// use ntdef::PoolTag;
/// assert_eq!(format!("{}", PoolTag(u32::from_le_bytes(*b"KcNp"))), "KcNp");
/// assert_eq!(format!("{}", PoolTag(u32::from_le_bytes(*b"kcom") | 0x8000_0000)), "kcom");
/// assert_eq!(format!("{}", PoolTag(1)), "0x00000001");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolTag(pub u32);

impl fmt::Display for PoolTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = (self.0 & 0x7FFF_FFFF).to_le_bytes();
        if bytes.iter().all(|&b| b.is_ascii_graphic() || b == b' ') {
            bytes
                .iter()
                .try_for_each(|&b| fmt::Write::write_char(f, b as char))
        } else {
            write!(f, "0x{:08X}", self.0)
        }
    }
}

/// [`PoolTag`]'s text as a `String` (feature `alloc`).
#[cfg(feature = "alloc")]
pub fn tag_text(tag: u32) -> alloc::string::String {
    alloc::string::ToString::to_string(&PoolTag(tag))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn tags_print_as_poolused_does() {
        let tag = |s: &[u8; 4]| u32::from_le_bytes(*s);
        assert_eq!(format!("{}", PoolTag(tag(b"KcSm"))), "KcSm");
        assert_eq!(format!("{}", PoolTag(tag(b"Ab  "))), "Ab  ");
        assert_eq!(format!("{}", PoolTag(tag(b"kcom") | 0x8000_0000)), "kcom");
        assert_eq!(format!("{}", PoolTag(0x0102_0304)), "0x01020304");
        assert_eq!(format!("{}", PoolTag(0)), "0x00000000");
    }
}
