//! The device backend's Windows calls: the installed `kcom_sample.sys`.
//!
//! The device is found through its device interface
//! ([`GUID_DEVINTERFACE_KCOM_SAMPLE`]) with `CM_Get_Device_Interface_List*`,
//! opened with `CreateFileW` for read and write access (the IOCTLs demand
//! it) and driven with synchronous `DeviceIoControl` calls.
//!
//! When the driver fails a request, the I/O manager turns its `NTSTATUS`
//! into a Win32 error. The backend maps the error back by asking
//! `RtlNtStatusToDosError` which of the protocol's statuses
//! (`protocol::STATUSES`) yields it, so
//! the client shows the same status names as with the loopback.
//!
//! When no interface is enabled, the device nodes with the INF's hardware
//! ID are looked up with SetupDi and `CM_Get_DevNode_Status`; when the
//! device refuses an IOCTL on an open handle, the handle's granted access
//! is read with `NtQueryObject`. [`super::diagnosis`] words both.

use std::io;
use std::ptr;

use kcom::NTSTATUS;
use kcom_sample_core::protocol::{GUID_DEVINTERFACE_KCOM_SAMPLE, STATUSES};
use windows_sys::Wdk::Foundation::{NtQueryObject, ObjectBasicInformation};
use windows_sys::Win32::Devices::DeviceAndDriverInstallation::{
    CM_GET_DEVICE_INTERFACE_LIST_PRESENT, CM_Get_DevNode_PropertyW, CM_Get_DevNode_Status,
    CM_Get_Device_Interface_List_SizeW, CM_Get_Device_Interface_ListW, CM_MapCrToWin32Err,
    CONFIGRET, CR_BUFFER_SMALL, CR_SUCCESS, DIGCF_ALLCLASSES, DIGCF_PRESENT, HDEVINFO,
    MAX_DEVICE_ID_LEN, SP_DEVINFO_DATA, SPDRP_HARDWAREID, SetupDiDestroyDeviceInfoList,
    SetupDiEnumDeviceInfo, SetupDiGetClassDevsW, SetupDiGetDeviceInstanceIdW,
    SetupDiGetDeviceRegistryPropertyW,
};
use windows_sys::Win32::Devices::Properties::{
    DEVPKEY_Device_ProblemStatus, DEVPROP_TYPE_NTSTATUS, DEVPROPTYPE,
};
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_GEN_FAILURE,
    ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_DATA, ERROR_NO_MORE_ITEMS, ERROR_NO_SUCH_DEVICE,
    ERROR_PATH_NOT_FOUND, GENERIC_READ, GENERIC_WRITE, GetLastError, HANDLE, INVALID_HANDLE_VALUE,
    RtlNtStatusToDosError,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::IO::DeviceIoControl;
use windows_sys::Win32::System::WindowsProgramming::PUBLIC_OBJECT_BASIC_INFORMATION;
use windows_sys::core::GUID as WinGuid;

use super::diagnosis::{self, DevNode};
use crate::transport::{Transport, TransportError};

/// What to do when the device refuses to open: its security descriptor
/// (the INF's) admits only SYSTEM and Administrators.
const ADMIN_HINT: &str = "access denied: run as Administrator \
     (the device admits only SYSTEM and Administrators)";

/// The access `Device::open` asks for (the IOCTLs demand read and write).
const OPEN_ACCESS: u32 = GENERIC_READ | GENERIC_WRITE;

/// The interface GUID in the layout `windows-sys` expects.
fn interface_guid() -> WinGuid {
    let g = GUID_DEVINTERFACE_KCOM_SAMPLE;
    WinGuid {
        data1: g.data1,
        data2: g.data2,
        data3: g.data3,
        data4: g.data4,
    }
}

/// The message of a Win32 error, as the OS words it.
fn os_message(code: u32) -> String {
    io::Error::from_raw_os_error(code as i32).to_string()
}

/// A `TransportError::Os` for a configuration manager failure.
fn cm_error(what: &str, cr: CONFIGRET) -> TransportError {
    // SAFETY: takes two integers and returns one; no memory is involved.
    let code = unsafe { CM_MapCrToWin32Err(cr, ERROR_GEN_FAILURE) };
    TransportError::Os {
        code,
        message: format!("{what} failed (CONFIGRET {cr}): {}", os_message(code)),
    }
}

/// The protocol status the driver completed a request with, from the Win32
/// error `DeviceIoControl` reported: the first of
/// [`STATUSES`](kcom_sample_core::protocol::STATUSES) that maps to it.
fn status_for_win32(error: u32) -> Option<NTSTATUS> {
    STATUSES.into_iter().find(|&status| {
        // SAFETY: takes a status value and returns an error code; it only
        // records the status in the calling thread's TEB, which is ours.
        unsafe { RtlNtStatusToDosError(status) == error }
    })
}

/// The symbolic link of the first present kcom sample device interface.
fn find_interface() -> Result<Vec<u16>, TransportError> {
    let guid = interface_guid();
    // The list can grow between the size query and the copy (a device
    // arriving); retry a few times on CR_BUFFER_SMALL.
    for _ in 0..8 {
        let mut len: u32 = 0;
        // SAFETY: `len` and `guid` are valid for the call; a null device ID
        // asks for interfaces of every device.
        let cr = unsafe {
            CM_Get_Device_Interface_List_SizeW(
                &mut len,
                &guid,
                ptr::null(),
                CM_GET_DEVICE_INTERFACE_LIST_PRESENT,
            )
        };
        if cr != CR_SUCCESS {
            return Err(cm_error("CM_Get_Device_Interface_List_SizeW", cr));
        }
        if len <= 1 {
            // Only the final NUL of an empty list.
            return Err(no_interface());
        }
        let mut list = vec![0u16; len as usize];
        // SAFETY: `list` holds `len` UTF-16 units, the length passed; the
        // function writes at most that many.
        let cr = unsafe {
            CM_Get_Device_Interface_ListW(
                &guid,
                ptr::null(),
                list.as_mut_ptr(),
                len,
                CM_GET_DEVICE_INTERFACE_LIST_PRESENT,
            )
        };
        if cr == CR_BUFFER_SMALL {
            continue;
        }
        if cr != CR_SUCCESS {
            return Err(cm_error("CM_Get_Device_Interface_ListW", cr));
        }
        // A list of NUL-terminated strings ending with an empty one.
        let first: Vec<u16> = list.iter().copied().take_while(|&c| c != 0).collect();
        if first.is_empty() {
            return Err(no_interface());
        }
        return Ok(first);
    }
    Err(TransportError::Os {
        code: ERROR_GEN_FAILURE,
        message: "the device interface list kept changing; try again".into(),
    })
}

/// The error for "no present interface": why, from the device nodes.
fn no_interface() -> TransportError {
    let message = match devnodes() {
        Ok(nodes) => diagnosis::no_interface(&nodes),
        Err(e) => diagnosis::no_interface_unknown(&e),
    };
    TransportError::Os {
        code: ERROR_FILE_NOT_FOUND,
        message,
    }
}

/// Owns a SetupDi device information set.
struct DevInfoSet(HDEVINFO);

impl Drop for DevInfoSet {
    fn drop(&mut self) {
        // SAFETY: the set came from `SetupDiGetClassDevsW`, is owned by this
        // value and is destroyed exactly once, here.
        unsafe { SetupDiDestroyDeviceInfoList(self.0) };
    }
}

/// The strings of a `REG_MULTI_SZ` value.
fn multi_sz(units: &[u16]) -> impl Iterator<Item = String> + '_ {
    units
        .split(|&c| c == 0)
        .take_while(|s| !s.is_empty())
        .map(String::from_utf16_lossy)
}

/// The present device nodes (of every class) whose hardware IDs include
/// the INF's, with their status and problem code.
fn devnodes() -> Result<Vec<DevNode>, String> {
    let last_error = |what: &str| {
        // SAFETY: reads the calling thread's last error; no arguments.
        let code = unsafe { GetLastError() };
        format!("{what}: {}", os_message(code))
    };
    // SAFETY: no class GUID, enumerator or window; the flags ask for every
    // present device of every class.
    let set = unsafe {
        SetupDiGetClassDevsW(
            ptr::null(),
            ptr::null(),
            ptr::null_mut(),
            DIGCF_ALLCLASSES | DIGCF_PRESENT,
        )
    };
    if set == INVALID_HANDLE_VALUE as HDEVINFO {
        return Err(last_error("SetupDiGetClassDevsW"));
    }
    let set = DevInfoSet(set);
    let mut nodes = Vec::new();
    for index in 0.. {
        let mut data = SP_DEVINFO_DATA {
            cbSize: size_of::<SP_DEVINFO_DATA>() as u32,
            ..Default::default()
        };
        // SAFETY: `set` is a live set and `data` a writable SP_DEVINFO_DATA
        // whose cbSize is set, as the function requires.
        if unsafe { SetupDiEnumDeviceInfo(set.0, index, &mut data) } == 0 {
            // SAFETY: reads the calling thread's last error; no arguments.
            if unsafe { GetLastError() } == ERROR_NO_MORE_ITEMS {
                break;
            }
            return Err(last_error("SetupDiEnumDeviceInfo"));
        }
        let ids = hardware_ids(&set, &data)?;
        if !multi_sz(&ids).any(|id| id.eq_ignore_ascii_case(diagnosis::HARDWARE_ID)) {
            continue;
        }
        nodes.push(devnode(&set, &data)?);
    }
    Ok(nodes)
}

/// The `SPDRP_HARDWAREID` value of a device (`REG_MULTI_SZ`), empty if it
/// has none.
fn hardware_ids(set: &DevInfoSet, data: &SP_DEVINFO_DATA) -> Result<Vec<u16>, String> {
    let mut units = vec![0u16; 256];
    loop {
        let mut required: u32 = 0;
        let bytes = u32::try_from(units.len() * 2).map_err(|_| "hardware IDs too long")?;
        // SAFETY: `set` and `data` identify a device of the set; `units` is
        // writable for `bytes` bytes, the size passed.
        let ok = unsafe {
            SetupDiGetDeviceRegistryPropertyW(
                set.0,
                data,
                SPDRP_HARDWAREID,
                ptr::null_mut(),
                units.as_mut_ptr().cast(),
                bytes,
                &mut required,
            )
        };
        if ok != 0 {
            return Ok(units);
        }
        // SAFETY: reads the calling thread's last error; no arguments.
        match unsafe { GetLastError() } {
            ERROR_INSUFFICIENT_BUFFER if required > bytes => {
                units = vec![0u16; (required as usize).div_ceil(2) + 1];
            }
            // The device has no hardware IDs.
            ERROR_INVALID_DATA => return Ok(Vec::new()),
            code => {
                return Err(format!(
                    "SetupDiGetDeviceRegistryPropertyW: {}",
                    os_message(code)
                ));
            }
        }
    }
}

/// A device node's instance ID, status, problem code and problem status.
fn devnode(set: &DevInfoSet, data: &SP_DEVINFO_DATA) -> Result<DevNode, String> {
    let mut id = [0u16; MAX_DEVICE_ID_LEN as usize + 1];
    let mut required: u32 = 0;
    // SAFETY: `set` and `data` identify a device of the set; `id` holds
    // the length passed, in UTF-16 units.
    let ok = unsafe {
        SetupDiGetDeviceInstanceIdW(set.0, data, id.as_mut_ptr(), id.len() as u32, &mut required)
    };
    if ok == 0 {
        // SAFETY: reads the calling thread's last error; no arguments.
        let code = unsafe { GetLastError() };
        return Err(format!("SetupDiGetDeviceInstanceIdW: {}", os_message(code)));
    }
    let len = id.iter().position(|&c| c == 0).unwrap_or(id.len());
    let instance_id = String::from_utf16_lossy(&id[..len]);
    let (mut status, mut problem) = (0u32, 0u32);
    // SAFETY: both outputs are writable u32s; `DevInst` is the node's
    // handle from SetupDiEnumDeviceInfo.
    let cr = unsafe { CM_Get_DevNode_Status(&mut status, &mut problem, data.DevInst, 0) };
    if cr != CR_SUCCESS {
        return Err(cm_error("CM_Get_DevNode_Status", cr).to_string());
    }
    Ok(DevNode {
        instance_id,
        status,
        problem,
        problem_status: problem_status(data.DevInst),
    })
}

/// The status a device node's start failed with
/// (`DEVPKEY_Device_ProblemStatus`), where Windows recorded one.
fn problem_status(devinst: u32) -> Option<NTSTATUS> {
    let mut value = [0u8; 4];
    let mut size = value.len() as u32;
    let mut kind: DEVPROPTYPE = 0;
    // SAFETY: the key is a static; `kind` and `size` are writable; `value`
    // is writable for `size` bytes.
    let cr = unsafe {
        CM_Get_DevNode_PropertyW(
            devinst,
            &DEVPKEY_Device_ProblemStatus,
            &mut kind,
            value.as_mut_ptr(),
            &mut size,
            0,
        )
    };
    (cr == CR_SUCCESS && kind == DEVPROP_TYPE_NTSTATUS && size == 4)
        .then(|| NTSTATUS::from_ne_bytes(value))
}

/// The access rights the handle was granted (`NtQueryObject`), if it can
/// be read.
fn granted_access(handle: HANDLE) -> Option<u32> {
    let mut info = PUBLIC_OBJECT_BASIC_INFORMATION::default();
    let mut len: u32 = 0;
    // SAFETY: the handle is open; `info` is writable for the size passed,
    // which is the size ObjectBasicInformation writes.
    let status = unsafe {
        NtQueryObject(
            handle,
            ObjectBasicInformation,
            (&raw mut info).cast(),
            size_of::<PUBLIC_OBJECT_BASIC_INFORMATION>() as u32,
            &mut len,
        )
    };
    (status >= 0).then_some(info.GrantedAccess)
}

/// An open handle to the kcom sample device.
#[derive(Debug)]
pub struct Device {
    handle: HANDLE,
    path: String,
}

impl Device {
    /// Finds the device by its interface GUID and opens it for read and
    /// write access.
    ///
    /// Errors (one line each): the driver is not installed (with the
    /// `devcon` command to install it), the device is installed but not
    /// started (its problem code), access denied (run as Administrator),
    /// or the OS's own message.
    pub fn open() -> Result<Self, TransportError> {
        let link = find_interface()?;
        let path = String::from_utf16_lossy(&link);
        let mut wide = link;
        wide.push(0);
        // SAFETY: `wide` is a NUL-terminated UTF-16 path that outlives the
        // call; no security attributes and no template handle are passed.
        let handle = unsafe {
            CreateFileW(
                wide.as_ptr(),
                OPEN_ACCESS,
                FILE_SHARE_READ | FILE_SHARE_WRITE,
                ptr::null(),
                OPEN_EXISTING,
                FILE_ATTRIBUTE_NORMAL,
                ptr::null_mut(),
            )
        };
        if handle == INVALID_HANDLE_VALUE {
            // SAFETY: reads the calling thread's last error; no arguments.
            let code = unsafe { GetLastError() };
            let message = match code {
                ERROR_ACCESS_DENIED => ADMIN_HINT.to_owned(),
                ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND | ERROR_NO_SUCH_DEVICE => format!(
                    "the device {path} went away while opening it (driver being removed?); \
                     check `{}`",
                    diagnosis::status_command()
                ),
                _ => format!("cannot open {path}: {}", os_message(code)),
            };
            return Err(TransportError::Os { code, message });
        }
        Ok(Device { handle, path })
    }

    /// The device interface path that was opened.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: `handle` was returned by `CreateFileW`, is owned by this
        // value and is closed exactly once, here.
        unsafe { CloseHandle(self.handle) };
    }
}

impl Transport for Device {
    fn ioctl(&self, code: u32, input: &[u8], output: &mut [u8]) -> Result<usize, TransportError> {
        let too_big = |what: &str| TransportError::Os {
            code: ERROR_GEN_FAILURE,
            message: format!("{what} buffer larger than 4 GiB"),
        };
        let in_len = u32::try_from(input.len()).map_err(|_| too_big("input"))?;
        let out_len = u32::try_from(output.len()).map_err(|_| too_big("output"))?;
        let mut returned: u32 = 0;
        // SAFETY: the handle is open (owned by `self`); `input` is readable
        // for `in_len` bytes and `output` writable for `out_len` bytes for
        // the whole call; the call is synchronous (no OVERLAPPED, handle
        // opened without FILE_FLAG_OVERLAPPED), so nothing is accessed after
        // it returns.
        let ok = unsafe {
            DeviceIoControl(
                self.handle,
                code,
                input.as_ptr().cast(),
                in_len,
                output.as_mut_ptr().cast(),
                out_len,
                &mut returned,
                ptr::null_mut(),
            )
        };
        if ok == 0 {
            // SAFETY: reads the calling thread's last error; no arguments.
            let error = unsafe { GetLastError() };
            if error == ERROR_ACCESS_DENIED {
                return Err(TransportError::Os {
                    code: error,
                    message: diagnosis::access_denied(
                        code,
                        OPEN_ACCESS,
                        granted_access(self.handle),
                    ),
                });
            }
            return Err(match status_for_win32(error) {
                Some(status) => TransportError::Status(status),
                None => TransportError::Os {
                    code: error,
                    message: format!("DeviceIoControl failed: {}", os_message(error)),
                },
            });
        }
        Ok(returned as usize)
    }

    fn describe(&self) -> String {
        format!("device {}", self.path)
    }
}
