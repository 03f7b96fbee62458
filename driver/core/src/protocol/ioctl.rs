//! IOCTL codes and the device interface: how a request finds the device
//! and which of the three operations it asks for.

use kcom::GUID;

use super::{
    InfoRequest, InfoResponse, PoolStatsRequest, PoolStatsResponse, RunRequest, RunResponse,
};

/// `METHOD_BUFFERED`: the I/O manager copies input into, and output out of,
/// one kernel buffer of `max(input, output)` bytes.
pub const METHOD_BUFFERED: u32 = 0;
/// `METHOD_IN_DIRECT`.
pub const METHOD_IN_DIRECT: u32 = 1;
/// `METHOD_OUT_DIRECT`.
pub const METHOD_OUT_DIRECT: u32 = 2;
/// `METHOD_NEITHER`.
pub const METHOD_NEITHER: u32 = 3;

/// `FILE_ANY_ACCESS`: no access right checked by the I/O manager.
pub const FILE_ANY_ACCESS: u32 = 0;
/// `FILE_READ_DATA` (`FILE_READ_ACCESS`).
pub const FILE_READ_DATA: u32 = 1;
/// `FILE_WRITE_DATA` (`FILE_WRITE_ACCESS`).
pub const FILE_WRITE_DATA: u32 = 2;

/// The device type of the sample device, in the range Microsoft reserves for
/// customers (`0x8000..=0xFFFF`).
pub const FILE_DEVICE_KCOM_SAMPLE: u32 = 0x8C0E;

/// The Windows `CTL_CODE` macro: packs a device type (bits 16..32), required
/// access (bits 14..16), function (bits 2..14) and transfer method (bits 0..2).
///
/// Out-of-range arguments are masked to their field width, as the C macro
/// effectively does for the values the headers use.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    ((device_type & 0xFFFF) << 16)
        | ((access & 0x3) << 14)
        | ((function & 0xFFF) << 2)
        | (method & 0x3)
}

/// The device type field of an IOCTL code (`DEVICE_TYPE_FROM_CTL_CODE`).
pub const fn ioctl_device_type(code: u32) -> u32 {
    code >> 16
}

/// The function field of an IOCTL code.
pub const fn ioctl_function(code: u32) -> u32 {
    (code >> 2) & 0xFFF
}

/// The transfer method of an IOCTL code (`METHOD_FROM_CTL_CODE`).
pub const fn ioctl_method(code: u32) -> u32 {
    code & 0x3
}

/// The required-access field of an IOCTL code.
pub const fn ioctl_access(code: u32) -> u32 {
    (code >> 14) & 0x3
}

// Access rights: the device's SDDL already admits only SYSTEM and
// Administrators, but a handle can be opened with *no* access rights at all,
// and `FILE_ANY_ACCESS` codes would then still reach the driver. The codes
// therefore demand the rights that match what they do: the two read-only
// queries need `FILE_READ_DATA`, the exercise (which allocates pool and burns
// CPU time) needs `FILE_READ_DATA | FILE_WRITE_DATA`. The I/O manager checks
// them against the handle's granted access before the driver sees the IRP.

/// `GET_INFO`: protocol version, limits and the registered strategies.
/// Input [`InfoRequest`], output [`InfoResponse`].
pub const IOCTL_KCOM_GET_INFO: u32 = ctl_code(
    FILE_DEVICE_KCOM_SAMPLE,
    0x800,
    METHOD_BUFFERED,
    FILE_READ_DATA,
);
/// `RUN_EXERCISE`: runs one strategy's workload.
/// Input [`RunRequest`], output [`RunResponse`].
pub const IOCTL_KCOM_RUN_EXERCISE: u32 = ctl_code(
    FILE_DEVICE_KCOM_SAMPLE,
    0x801,
    METHOD_BUFFERED,
    FILE_READ_DATA | FILE_WRITE_DATA,
);
/// `POOL_STATS`: outstanding allocations and bytes per pool type and tag.
/// Input [`PoolStatsRequest`], output [`PoolStatsResponse`].
pub const IOCTL_KCOM_POOL_STATS: u32 = ctl_code(
    FILE_DEVICE_KCOM_SAMPLE,
    0x802,
    METHOD_BUFFERED,
    FILE_READ_DATA,
);

/// Every IOCTL code the device understands.
pub const ALL_IOCTLS: [u32; 3] = [
    IOCTL_KCOM_GET_INFO,
    IOCTL_KCOM_RUN_EXERCISE,
    IOCTL_KCOM_POOL_STATS,
];

/// The IOCTLs of this protocol, as a closed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ioctl {
    /// [`IOCTL_KCOM_GET_INFO`].
    GetInfo,
    /// [`IOCTL_KCOM_RUN_EXERCISE`].
    RunExercise,
    /// [`IOCTL_KCOM_POOL_STATS`].
    PoolStats,
}

impl Ioctl {
    /// The IOCTL for `code`, or `None` for any code this device does not
    /// define (including codes that differ only in method or access bits).
    pub const fn from_code(code: u32) -> Option<Ioctl> {
        match code {
            IOCTL_KCOM_GET_INFO => Some(Ioctl::GetInfo),
            IOCTL_KCOM_RUN_EXERCISE => Some(Ioctl::RunExercise),
            IOCTL_KCOM_POOL_STATS => Some(Ioctl::PoolStats),
            _ => None,
        }
    }

    /// The IOCTL code.
    pub const fn code(self) -> u32 {
        match self {
            Ioctl::GetInfo => IOCTL_KCOM_GET_INFO,
            Ioctl::RunExercise => IOCTL_KCOM_RUN_EXERCISE,
            Ioctl::PoolStats => IOCTL_KCOM_POOL_STATS,
        }
    }

    /// Byte length of the request this IOCTL takes.
    pub const fn request_size(self) -> usize {
        match self {
            Ioctl::GetInfo => InfoRequest::SIZE,
            Ioctl::RunExercise => RunRequest::SIZE,
            Ioctl::PoolStats => PoolStatsRequest::SIZE,
        }
    }

    /// Byte length of the response this IOCTL writes on success.
    pub const fn response_size(self) -> usize {
        match self {
            Ioctl::GetInfo => InfoResponse::SIZE,
            Ioctl::RunExercise => RunResponse::SIZE,
            Ioctl::PoolStats => PoolStatsResponse::SIZE,
        }
    }
}

/// The device interface class of the sample device; user mode finds the
/// device with `CM_Get_Device_Interface_List` on this GUID.
pub const GUID_DEVINTERFACE_KCOM_SAMPLE: GUID = kcom::guid!("3d75130d-1cfc-4b40-be0b-5c77d7beee90");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctl_code_matches_the_windows_macro() {
        // CTL_CODE(FILE_DEVICE_UNKNOWN=0x22, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
        assert_eq!(
            ctl_code(0x22, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS),
            0x0022_2000
        );
        // IOCTL_DISK_GET_DRIVE_GEOMETRY = CTL_CODE(7, 0, METHOD_BUFFERED, FILE_ANY_ACCESS)
        assert_eq!(
            ctl_code(7, 0, METHOD_BUFFERED, FILE_ANY_ACCESS),
            0x0007_0000
        );
        // FSCTL_GET_REPARSE_POINT = CTL_CODE(9, 42, METHOD_BUFFERED, FILE_ANY_ACCESS)
        assert_eq!(
            ctl_code(9, 42, METHOD_BUFFERED, FILE_ANY_ACCESS),
            0x0009_00A8
        );
        // IOCTL_STORAGE_EJECT_MEDIA = CTL_CODE(0x2d, 0x202, METHOD_BUFFERED, FILE_READ_ACCESS)
        assert_eq!(
            ctl_code(0x2D, 0x202, METHOD_BUFFERED, FILE_READ_DATA),
            0x002D_4808
        );
    }

    #[test]
    fn ioctl_codes_are_in_the_customer_ranges_and_buffered() {
        for code in ALL_IOCTLS {
            assert!(ioctl_device_type(code) >= 0x8000);
            assert!(ioctl_function(code) >= 0x800);
            assert_eq!(ioctl_method(code), METHOD_BUFFERED);
            assert_ne!(ioctl_access(code), FILE_ANY_ACCESS);
            let ioctl = Ioctl::from_code(code).unwrap();
            assert_eq!(ioctl.code(), code);
        }
        assert_eq!(
            ioctl_access(IOCTL_KCOM_RUN_EXERCISE),
            FILE_READ_DATA | FILE_WRITE_DATA
        );
        // Same function, other method: not ours.
        assert_eq!(Ioctl::from_code(IOCTL_KCOM_GET_INFO | METHOD_NEITHER), None);
        assert_eq!(Ioctl::from_code(0), None);
    }

    #[test]
    fn ioctl_codes_are_stable() {
        // Clients compiled against earlier builds depend on these values.
        assert_eq!(IOCTL_KCOM_GET_INFO, 0x8C0E_6000);
        assert_eq!(IOCTL_KCOM_RUN_EXERCISE, 0x8C0E_E004);
        assert_eq!(IOCTL_KCOM_POOL_STATS, 0x8C0E_6008);
        assert_eq!(
            GUID_DEVINTERFACE_KCOM_SAMPLE,
            GUID::new(
                0x3d75_130d,
                0x1cfc,
                0x4b40,
                [0xbe, 0x0b, 0x5c, 0x77, 0xd7, 0xbe, 0xee, 0x90]
            )
        );
    }
}
