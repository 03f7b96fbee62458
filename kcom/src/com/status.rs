//! `NTSTATUS` values and the mapping of method results to them.

/// A kernel status code (`LONG`), the same type as `wdk_sys::NTSTATUS`.
///
/// Negative values are errors, `0..=0x3FFF_FFFF` success,
/// `0x4000_0000..` informational and `0x8000_0000..` (as `u32`) warnings.
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub type NTSTATUS = i32;

macro_rules! statuses {
    ($($(#[$m:meta])* $name:ident = $value:literal;)*) => {
        $( $(#[$m])* pub const $name: NTSTATUS = $value as u32 as i32; )*

        /// The symbolic name of a status this crate defines (`"STATUS_SUCCESS"`),
        /// or `None` for other values.
        pub const fn status_name(status: NTSTATUS) -> Option<&'static str> {
            $( if status == $name { return Some(stringify!($name)); } )*
            None
        }
    };
}

statuses! {
    /// The operation completed successfully.
    STATUS_SUCCESS = 0x0000_0000;
    /// The operation is pending.
    STATUS_PENDING = 0x0000_0103;
    /// A wait timed out.
    STATUS_TIMEOUT = 0x0000_0102;
    /// Warning: the data did not fit in the buffer (partial data returned).
    STATUS_BUFFER_OVERFLOW = 0x8000_0005;
    /// Warning: no more entries.
    STATUS_NO_MORE_ENTRIES = 0x8000_001A;
    /// Generic failure.
    STATUS_UNSUCCESSFUL = 0xC000_0001;
    /// The requested operation is not implemented.
    STATUS_NOT_IMPLEMENTED = 0xC000_0002;
    /// The length of the input does not match what the request requires.
    STATUS_INFO_LENGTH_MISMATCH = 0xC000_0004;
    /// An invalid parameter was passed.
    STATUS_INVALID_PARAMETER = 0xC000_000D;
    /// The request is not valid for this device.
    STATUS_INVALID_DEVICE_REQUEST = 0xC000_0010;
    /// Not enough virtual memory or paging file quota.
    STATUS_NO_MEMORY = 0xC000_0017;
    /// Access denied.
    STATUS_ACCESS_DENIED = 0xC000_0022;
    /// The buffer is too small to contain the entry.
    STATUS_BUFFER_TOO_SMALL = 0xC000_0023;
    /// Data error.
    STATUS_DATA_ERROR = 0xC000_003E;
    /// The revision level is unknown.
    STATUS_UNKNOWN_REVISION = 0xC000_0058;
    /// The revision levels are incompatible.
    STATUS_REVISION_MISMATCH = 0xC000_0059;
    /// An integer operation overflowed.
    STATUS_INTEGER_OVERFLOW = 0xC000_0095;
    /// Insufficient system resources (pool allocation failed).
    STATUS_INSUFFICIENT_RESOURCES = 0xC000_009A;
    /// The device is not ready.
    STATUS_DEVICE_NOT_READY = 0xC000_00A3;
    /// The request is not supported.
    STATUS_NOT_SUPPORTED = 0xC000_00BB;
    /// An internal error occurred.
    STATUS_INTERNAL_ERROR = 0xC000_00E5;
    /// The operation was cancelled.
    STATUS_CANCELLED = 0xC000_0120;
    /// The device is in an invalid state for the request.
    STATUS_INVALID_DEVICE_STATE = 0xC000_0184;
    /// A possible deadlock was detected.
    STATUS_POSSIBLE_DEADLOCK = 0xC000_0194;
    /// The buffer size is invalid.
    STATUS_INVALID_BUFFER_SIZE = 0xC000_0206;
    /// The object does not implement the requested interface.
    STATUS_NOINTERFACE = 0xC000_02B9;
}

/// `NT_SUCCESS`: true for success and informational statuses (`>= 0`).
#[inline]
pub const fn nt_success(status: NTSTATUS) -> bool {
    status >= 0
}

/// Conversion of a COM method's return value into the `NTSTATUS` its shim
/// returns across the ABI.
///
/// Implemented for [`NTSTATUS`] (returned as is), `Result<(), NTSTATUS>`
/// (`Ok` → [`STATUS_SUCCESS`], `Err(s)` → `s`) and `()` (always success).
pub trait IntoNtStatus {
    /// The status to return across the ABI.
    fn into_ntstatus(self) -> NTSTATUS;
}

impl IntoNtStatus for NTSTATUS {
    #[inline]
    fn into_ntstatus(self) -> NTSTATUS {
        self
    }
}

impl IntoNtStatus for () {
    #[inline]
    fn into_ntstatus(self) -> NTSTATUS {
        STATUS_SUCCESS
    }
}

impl IntoNtStatus for Result<(), NTSTATUS> {
    /// `Ok(())` → `STATUS_SUCCESS`; `Err(s)` → `s`. An `Err` carrying a
    /// success code is turned into `STATUS_UNSUCCESSFUL` so a failure can
    /// never be reported as success across the ABI.
    #[inline]
    fn into_ntstatus(self) -> NTSTATUS {
        match self {
            Ok(()) => STATUS_SUCCESS,
            Err(s) if nt_success(s) => STATUS_UNSUCCESSFUL,
            Err(s) => s,
        }
    }
}

/// The inverse of [`IntoNtStatus`], used by the safe client-side method
/// wrappers to turn the ABI status back into the declared return type.
pub trait FromNtStatus {
    /// Rebuilds the declared return value from the status.
    fn from_ntstatus(status: NTSTATUS) -> Self;
}

impl FromNtStatus for NTSTATUS {
    #[inline]
    fn from_ntstatus(status: NTSTATUS) -> Self {
        status
    }
}

impl FromNtStatus for () {
    #[inline]
    fn from_ntstatus(_: NTSTATUS) -> Self {}
}

impl FromNtStatus for Result<(), NTSTATUS> {
    #[inline]
    fn from_ntstatus(status: NTSTATUS) -> Self {
        if nt_success(status) {
            Ok(())
        } else {
            Err(status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_ntstatus_h() {
        assert_eq!(STATUS_NOINTERFACE as u32, 0xC000_02B9);
        assert_eq!(STATUS_INSUFFICIENT_RESOURCES as u32, 0xC000_009A);
        assert!(STATUS_INVALID_PARAMETER < 0);
        assert!(nt_success(STATUS_PENDING));
        assert!(!nt_success(STATUS_BUFFER_OVERFLOW));
    }

    #[test]
    fn names() {
        assert_eq!(status_name(STATUS_SUCCESS), Some("STATUS_SUCCESS"));
        assert_eq!(status_name(STATUS_NOINTERFACE), Some("STATUS_NOINTERFACE"));
        assert_eq!(status_name(0x1234), None);
    }

    #[test]
    fn result_mapping_round_trips() {
        assert_eq!(Ok::<(), NTSTATUS>(()).into_ntstatus(), STATUS_SUCCESS);
        assert_eq!(
            Err::<(), NTSTATUS>(STATUS_ACCESS_DENIED).into_ntstatus(),
            STATUS_ACCESS_DENIED
        );
        assert_eq!(
            Err::<(), NTSTATUS>(STATUS_SUCCESS).into_ntstatus(),
            STATUS_UNSUCCESSFUL
        );
        assert_eq!(
            <Result<(), NTSTATUS>>::from_ntstatus(STATUS_NOINTERFACE),
            Err(STATUS_NOINTERFACE)
        );
        assert_eq!(<Result<(), NTSTATUS>>::from_ntstatus(STATUS_SUCCESS), Ok(()));
    }
}
