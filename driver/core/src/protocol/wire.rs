//! The byte encoding every message shares, on `zerocopy`.
//!
//! A message is a `#[repr(C)]` struct of little-endian integers
//! ([`U32`](super::U32), [`U64`](super::U64), …) and byte arrays that starts
//! with a [`Header`]. Its derives prove the layout at compile time:
//! `IntoBytes` rejects padding, `FromBytes` says every byte pattern is a
//! value, `Unaligned` says it may sit at any address. [`size!`] pins each
//! size to the documented one, so a layout change that would break the byte
//! format does not compile.
//!
//! Decoding copies (`read_from_bytes`): bytes from user mode are never
//! reinterpreted in place. Encoding writes straight into the output buffer
//! (`mut_from_prefix`), after zeroing it, so every byte of the reply is
//! written and nothing stale reaches the caller.

use kcom::{NTSTATUS, STATUS_BUFFER_TOO_SMALL, STATUS_INFO_LENGTH_MISMATCH};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::Header;

/// The status of a message whose length is wrong.
pub(crate) const LENGTH_MISMATCH: NTSTATUS = STATUS_INFO_LENGTH_MISMATCH;

/// A whole message: a fixed-size layout whose first field is its [`Header`].
pub(crate) trait Message:
    FromBytes + IntoBytes + KnownLayout + Immutable + Unaligned + Copy
{
    /// The header.
    fn header(&self) -> &Header;
    /// The header, to write it.
    fn header_mut(&mut self) -> &mut Header;
}

/// `STATUS_INFO_LENGTH_MISMATCH` unless `buf` has exactly `M`'s size.
pub(crate) fn check_length<M: Message>(buf: &[u8]) -> Result<(), NTSTATUS> {
    if buf.len() == size_of::<M>() {
        Ok(())
    } else {
        Err(LENGTH_MISMATCH)
    }
}

/// Reads a message from exactly `size_of::<M>()` bytes (a copy) and checks
/// its header.
pub(crate) fn decode<M: Message>(buf: &[u8]) -> Result<M, NTSTATUS> {
    let msg = M::read_from_bytes(buf).map_err(|_| LENGTH_MISMATCH)?;
    msg.header().check::<M>()?;
    Ok(msg)
}

/// Encodes a message into the front of `out`: zeroes it, lets `fill` write
/// the fields in place, then writes the header. Returns the byte count;
/// `STATUS_BUFFER_TOO_SMALL` (nothing written) if `out` is too short.
pub(crate) fn encode_with<M: Message>(
    out: &mut [u8],
    fill: impl FnOnce(&mut M),
) -> Result<usize, NTSTATUS> {
    let (msg, _) = M::mut_from_prefix(out).map_err(|_| STATUS_BUFFER_TOO_SMALL)?;
    msg.as_mut_bytes().fill(0);
    fill(msg);
    *msg.header_mut() = Header::new(size_of::<M>());
    Ok(size_of::<M>())
}

/// Pins a wire struct's size to the documented byte count at compile time.
macro_rules! size {
    ($t:ty, $size:expr) => {
        const _: () = assert!(core::mem::size_of::<$t>() == $size);
    };
}
pub(crate) use size;

/// Implements [`Message`] for a struct whose header sits at `$($field).+`.
macro_rules! message {
    ($t:ty, $($field:ident).+) => {
        impl $crate::protocol::wire::Message for $t {
            fn header(&self) -> &$crate::protocol::Header {
                &self.$($field).+
            }
            fn header_mut(&mut self) -> &mut $crate::protocol::Header {
                &mut self.$($field).+
            }
        }
    };
}
pub(crate) use message;

/// The impls of a request that is only the version/size header
/// (`GET_INFO`, `POOL_STATS`): a struct with one field, `header`.
macro_rules! header_only_request {
    ($name:ident) => {
        $crate::protocol::wire::size!($name, 8);
        $crate::protocol::wire::message!($name, header);

        impl $name {
            /// Wire size in bytes.
            pub const SIZE: usize = size_of::<Self>();

            /// A request for this protocol version.
            pub const fn new() -> Self {
                $name {
                    header: $crate::protocol::Header::new(Self::SIZE),
                }
            }

            /// Decodes and validates a request from exactly [`Self::SIZE`] bytes.
            pub fn decode(buf: &[u8]) -> Result<Self, kcom::NTSTATUS> {
                $crate::protocol::wire::decode::<Self>(buf)
            }

            /// Encodes into the front of `out`; returns the byte count.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, kcom::NTSTATUS> {
                $crate::protocol::wire::encode_with(out, |_: &mut Self| {})
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}
pub(crate) use header_only_request;
