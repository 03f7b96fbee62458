//! The user/kernel contract: IOCTL codes, the device interface GUID, request
//! and response layouts, and their byte encodings.
//!
//! Everything that crosses the `DeviceIoControl` boundary is defined here and
//! nowhere else, so the driver, the user-mode client and the tests cannot
//! disagree. One file per concern:
//!
//! * [`ioctl`]: the IOCTL codes and the device interface GUID;
//! * [`strategy`]: the strategies and pool types the messages name;
//! * [`get_info`], [`run_exercise`], [`pool_stats`]: each IOCTL's request
//!   and response (and, for `RUN_EXERCISE`, the range rules of a run);
//! * `wire`: the encoding they share.
//!
//! Each message is a `#[repr(C)]` struct of little-endian integers
//! ([`U32`], [`U64`], [`I32`], from `zerocopy`) and byte arrays whose first
//! field is a [`Header`] (`version`, [`PROTOCOL_VERSION`], and `size`, the
//! message's byte length). `zerocopy`'s derives prove at compile time that
//! the layout has no padding and that every byte pattern is a value, and
//! each size is pinned to the documented one, so the byte format cannot
//! change by accident.
//!
//! Bytes from user mode are never reinterpreted in place: `decode` checks
//! the length and copies the message out (`read_from_bytes`); `encode`
//! writes straight into the output buffer, every byte of it (reserved fields
//! and unused slots as zero), so no stale buffer contents reach the caller.
//! No message carries a pointer.
//!
//! # Status codes
//!
//! Every status a request can complete with besides `STATUS_SUCCESS`; the
//! same list is [`STATUSES`].
//!
//! | condition                                        | status                          |
//! |--------------------------------------------------|---------------------------------|
//! | IOCTL code not in this module                    | `STATUS_INVALID_DEVICE_REQUEST` |
//! | input length or `size` field wrong               | `STATUS_INFO_LENGTH_MISMATCH`   |
//! | `version` field is not [`PROTOCOL_VERSION`]      | `STATUS_REVISION_MISMATCH`      |
//! | output buffer shorter than the response          | `STATUS_BUFFER_TOO_SMALL`       |
//! | unknown strategy, value out of range, flags set  | `STATUS_INVALID_PARAMETER`      |
//! | strategy known but not registered on the device  | `STATUS_NOT_SUPPORTED`          |
//! | pool allocation failed during an exercise        | `STATUS_INSUFFICIENT_RESOURCES` |
//! | a written pattern did not read back unchanged    | `STATUS_DATA_ERROR`             |
//! | `wdk-paged` requested above `PASSIVE_LEVEL`      | `STATUS_INVALID_DEVICE_STATE`   |
//! | an exercise caught kcom misbehaving              | `STATUS_INTERNAL_ERROR`         |

pub mod get_info;
pub mod ioctl;
pub mod pool_stats;
pub mod run_exercise;
pub mod strategy;
mod wire;

pub use kcom::{
    NTSTATUS, STATUS_BUFFER_TOO_SMALL, STATUS_DATA_ERROR, STATUS_INFO_LENGTH_MISMATCH,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INTERNAL_ERROR, STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER, STATUS_NOT_SUPPORTED,
    STATUS_REVISION_MISMATCH,
};
/// Little-endian integers as the messages hold them (`.get()` reads one,
/// `::new(v)` or `v.into()` makes one).
pub use zerocopy::little_endian::{I32, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub use self::get_info::{InfoMessage, InfoRequest, InfoResponse, InfoView, StrategyInfo};
pub use self::ioctl::{
    ALL_IOCTLS, FILE_ANY_ACCESS, FILE_DEVICE_KCOM_SAMPLE, FILE_READ_DATA, FILE_WRITE_DATA,
    GUID_DEVINTERFACE_KCOM_SAMPLE, IOCTL_KCOM_GET_INFO, IOCTL_KCOM_POOL_STATS,
    IOCTL_KCOM_RUN_EXERCISE, Ioctl, METHOD_BUFFERED, METHOD_IN_DIRECT, METHOD_NEITHER,
    METHOD_OUT_DIRECT, ctl_code, ioctl_access, ioctl_device_type, ioctl_function, ioctl_method,
};
pub use self::pool_stats::{PoolStatsEntry, PoolStatsRequest, PoolStatsResponse};
pub use self::run_exercise::{
    ExerciseParams, ExerciseReport, RunRequest, RunRequestError, RunResponse,
};
pub use self::strategy::{
    STRATEGY_FLAG_PASSIVE_ONLY, STRATEGY_FLAGS_ALL, StrategyId, pool_tag, pool_type,
};

/// The protocol version carried in every message; bumped on any layout or
/// semantic change.
pub const PROTOCOL_VERSION: u32 = 1;

/// Every status a request can complete with besides `STATUS_SUCCESS`, in
/// the order of the table above. The fuzzers, the tests and `kcomctl`
/// (which maps Win32 errors back to these) use this list.
pub const STATUSES: [NTSTATUS; 10] = [
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INFO_LENGTH_MISMATCH,
    STATUS_REVISION_MISMATCH,
    STATUS_BUFFER_TOO_SMALL,
    STATUS_INVALID_PARAMETER,
    STATUS_NOT_SUPPORTED,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_DATA_ERROR,
    STATUS_INVALID_DEVICE_STATE,
    STATUS_INTERNAL_ERROR,
];

/// The first eight bytes of every message.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct Header {
    /// [`PROTOCOL_VERSION`].
    pub version: U32,
    /// The message's byte length.
    pub size: U32,
}
wire::size!(Header, 8);

impl Header {
    /// The header of a `size`-byte message of this protocol version.
    pub const fn new(size: usize) -> Self {
        Header {
            version: U32::new(PROTOCOL_VERSION),
            size: U32::new(size as u32),
        }
    }

    /// Checks the header of a received `M`: `STATUS_INFO_LENGTH_MISMATCH`
    /// if `size` is not `M`'s, else `STATUS_REVISION_MISMATCH` if `version`
    /// is not [`PROTOCOL_VERSION`].
    fn check<M>(&self) -> Result<(), NTSTATUS> {
        if self.size.get() as usize != size_of::<M>() {
            return Err(STATUS_INFO_LENGTH_MISMATCH);
        }
        if self.version.get() != PROTOCOL_VERSION {
            return Err(STATUS_REVISION_MISMATCH);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

/// Most iterations (allocations) one `RUN_EXERCISE` may ask for.
pub const MAX_ITERATIONS: u32 = 1_000_000;
/// Largest block one iteration may allocate (1 MiB).
pub const MAX_ALLOC_SIZE: u32 = 1 << 20;
/// Cap on `iterations * max_size`: the most bytes one request may allocate
/// and write in total (256 MiB), which bounds its running time.
pub const MAX_TOTAL_BYTES: u64 = 256 << 20;
/// Most blocks an exercise keeps alive at the same time.
pub const MAX_LIVE_BLOCKS: u32 = 32;
/// Most bytes an exercise keeps alive at the same time (4 MiB); older blocks
/// are verified and freed first to stay under it.
pub const MAX_LIVE_BYTES: u64 = 4 << 20;
/// Largest alignment a request may ask for.
pub const MAX_ALIGN: u32 = 4096;
/// Alignment used when a request passes `align = 0`.
pub const DEFAULT_ALIGN: u32 = 8;
/// Capacity of the strategy table in [`InfoResponse`].
pub const MAX_STRATEGIES: usize = 16;
/// Capacity of the entry table in [`PoolStatsResponse`].
pub const MAX_POOL_ENTRIES: usize = 16;
/// Byte length of [`StrategyInfo::name`].
pub const NAME_LEN: usize = 32;
/// Byte length of [`StrategyInfo::description`].
pub const DESCRIPTION_LEN: usize = 96;

// ---------------------------------------------------------------------------
// Field helpers
// ---------------------------------------------------------------------------

/// Copies `s` into a NUL-padded fixed field, truncated at a character
/// boundary so the stored bytes stay valid UTF-8. Always leaves at least one
/// NUL at the end.
pub fn fixed_str<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let mut len = s.len().min(N.saturating_sub(1));
    while !s.is_char_boundary(len) {
        len -= 1;
    }
    out[..len].copy_from_slice(&s.as_bytes()[..len]);
    out
}

/// The text of a NUL-padded fixed field: bytes up to the first NUL, or
/// `None` if they are not UTF-8.
pub fn str_from_fixed(field: &[u8]) -> Option<&str> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    core::str::from_utf8(&field[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sizes_are_stable() {
        // Clients compiled against earlier builds depend on these values.
        assert_eq!(
            (
                InfoRequest::SIZE,
                InfoResponse::SIZE,
                RunRequest::SIZE,
                RunResponse::SIZE,
                PoolStatsRequest::SIZE,
                PoolStatsResponse::SIZE
            ),
            (8, 2344, 40, 72, 8, 784)
        );
    }

    #[test]
    fn statuses_are_failures_and_distinct() {
        for (i, s) in STATUSES.iter().enumerate() {
            assert!(!kcom::nt_success(*s), "{s:#x}");
            assert!(kcom::status_name(*s).is_some(), "{s:#x}");
            assert!(!STATUSES[..i].contains(s), "{s:#x} twice");
        }
    }

    #[test]
    fn fixed_strings_truncate_on_char_boundaries() {
        let f: [u8; 8] = fixed_str("abc");
        assert_eq!(&f, b"abc\0\0\0\0\0");
        assert_eq!(str_from_fixed(&f), Some("abc"));
        let f: [u8; 4] = fixed_str("abcdef");
        assert_eq!(&f, b"abc\0");
        // "é" is two bytes: it must not be split.
        let f: [u8; 4] = fixed_str("aaé");
        assert_eq!(str_from_fixed(&f), Some("aa"));
        assert_eq!(str_from_fixed(&[0xFF, 0]), None);
        assert_eq!(str_from_fixed(b"full"), Some("full"));
    }
}
