//! `NTSTATUS` values with the names `ntstatus.h` and KMDF's `wdfstatus.h`
//! give them: each written once, in the table below.

/// A kernel status code (`LONG`), the same type as `wdk_sys::NTSTATUS`.
///
/// Negative values are errors, `0..=0x3FFF_FFFF` success,
/// `0x4000_0000..` informational and `0x8000_0000..` (as `u32`) warnings.
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub type NTSTATUS = i32;

macro_rules! statuses {
    ($($(#[$m:meta])* $name:ident = $value:literal;)*) => {
        $( $(#[$m])* pub const $name: NTSTATUS = $value as u32 as i32; )*

        /// The symbolic name of a status defined here (`"STATUS_SUCCESS"`),
        /// or `None` for other values.
        pub const fn status_name(status: NTSTATUS) -> Option<&'static str> {
            $( if status == $name { return Some(stringify!($name)); } )*
            None
        }

        /// Every status defined here, in the order of the table.
        pub const ALL_STATUSES: &[NTSTATUS] = &[$($name),*];
    };
}

statuses! {
    /// The operation completed successfully.
    STATUS_SUCCESS = 0x0000_0000;
    /// A wait timed out.
    STATUS_TIMEOUT = 0x0000_0102;
    /// The operation is pending.
    STATUS_PENDING = 0x0000_0103;
    /// Warning: the data did not fit in the buffer (partial data returned).
    STATUS_BUFFER_OVERFLOW = 0x8000_0005;
    /// Warning: the device is busy.
    STATUS_DEVICE_BUSY = 0x8000_0011;
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
    /// A delete of the object is pending.
    STATUS_DELETE_PENDING = 0xC000_0056;
    /// The revision level is unknown.
    STATUS_UNKNOWN_REVISION = 0xC000_0058;
    /// The revision levels are incompatible.
    STATUS_REVISION_MISMATCH = 0xC000_0059;
    /// The security descriptor is not valid.
    STATUS_INVALID_SECURITY_DESCR = 0xC000_0079;
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
    /// The fourth parameter is not valid.
    STATUS_INVALID_PARAMETER_4 = 0xC000_00F2;
    /// The operation was cancelled.
    STATUS_CANCELLED = 0xC000_0120;
    /// The driver detected an internal error.
    STATUS_DRIVER_INTERNAL_ERROR = 0xC000_0183;
    /// The device is in an invalid state for the request.
    STATUS_INVALID_DEVICE_STATE = 0xC000_0184;
    /// A possible deadlock was detected.
    STATUS_POSSIBLE_DEADLOCK = 0xC000_0194;
    /// The buffer size is invalid.
    STATUS_INVALID_BUFFER_SIZE = 0xC000_0206;
    /// The object does not implement the requested interface.
    STATUS_NOINTERFACE = 0xC000_02B9;
    /// KMDF: an internal framework error.
    STATUS_WDF_INTERNAL_ERROR = 0xC020_0201;
    /// KMDF: the queue is paused.
    STATUS_WDF_PAUSED = 0xC020_0203;
    /// KMDF: the object is busy.
    STATUS_WDF_BUSY = 0xC020_0204;
    /// KMDF: the object attributes are not valid.
    STATUS_WDF_OBJECT_ATTRIBUTES_INVALID = 0xC020_0209;
    /// KMDF: a required callback is missing.
    STATUS_WDF_NO_CALLBACK = 0xC020_020B;
    /// KMDF: the parent's execution level does not admit the object's.
    STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL = 0xC020_020C;
    /// KMDF: the object cannot have this parent.
    STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED = 0xC020_020F;
    /// KMDF: the synchronization scope is not valid.
    STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID = 0xC020_0210;
    /// KMDF: the execution level is not valid.
    STATUS_WDF_EXECUTION_LEVEL_INVALID = 0xC020_0211;
    /// KMDF: the object needs a parent.
    STATUS_WDF_PARENT_NOT_SPECIFIED = 0xC020_0212;
    /// KMDF: not enough map registers.
    STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS = 0xC020_0214;
}

/// `NT_SUCCESS`: true for success and informational statuses (`>= 0`).
#[inline]
pub const fn nt_success(status: NTSTATUS) -> bool {
    status >= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_ntstatus_h() {
        assert_eq!(STATUS_NOINTERFACE as u32, 0xC000_02B9);
        assert_eq!(STATUS_INSUFFICIENT_RESOURCES as u32, 0xC000_009A);
        assert_eq!(STATUS_WDF_PAUSED as u32, 0xC020_0203);
        assert!(!nt_success(STATUS_INVALID_PARAMETER));
        assert!(nt_success(STATUS_PENDING));
        assert!(!nt_success(STATUS_BUFFER_OVERFLOW));
    }

    #[test]
    fn every_status_has_one_name_and_the_names_are_unique() {
        for (i, &a) in ALL_STATUSES.iter().enumerate() {
            let name = status_name(a).expect("named");
            assert!(name.starts_with("STATUS_"), "{name}");
            for &b in &ALL_STATUSES[i + 1..] {
                assert_ne!(a, b, "{name} twice");
            }
        }
        assert_eq!(status_name(STATUS_SUCCESS), Some("STATUS_SUCCESS"));
        assert_eq!(status_name(0x1234), None);
    }
}
