//! The device backend (Windows only): the installed `kcom_sample.sys`.
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

use std::io;
use std::ptr;

use kcom::NTSTATUS;
use kcom_sample_core::protocol::{GUID_DEVINTERFACE_KCOM_SAMPLE, STATUSES};
use windows_sys::Win32::Devices::DeviceAndDriverInstallation::{
    CM_GET_DEVICE_INTERFACE_LIST_PRESENT, CM_Get_Device_Interface_List_SizeW,
    CM_Get_Device_Interface_ListW, CM_MapCrToWin32Err, CONFIGRET, CR_BUFFER_SMALL, CR_SUCCESS,
};
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_GEN_FAILURE,
    ERROR_NO_SUCH_DEVICE, ERROR_PATH_NOT_FOUND, GENERIC_READ, GENERIC_WRITE, GetLastError, HANDLE,
    INVALID_HANDLE_VALUE, RtlNtStatusToDosError,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::IO::DeviceIoControl;
use windows_sys::core::GUID as WinGuid;

use crate::transport::{Transport, TransportError};

/// What to do when no device is present.
const INSTALL_HINT: &str = "driver not installed: no kcom sample device is present; \
     from an elevated prompt in the driver package folder run \
     `devcon install kcom_sample.inf Root\\KcomSample` (see tools/vm/), or use --loopback";

/// What to do when the device refuses the handle.
const ADMIN_HINT: &str = "access denied: run as Administrator \
     (the device admits only SYSTEM and Administrators)";

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
            return Err(TransportError::Os {
                code: ERROR_FILE_NOT_FOUND,
                message: INSTALL_HINT.into(),
            });
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
            return Err(TransportError::Os {
                code: ERROR_FILE_NOT_FOUND,
                message: INSTALL_HINT.into(),
            });
        }
        return Ok(first);
    }
    Err(TransportError::Os {
        code: ERROR_GEN_FAILURE,
        message: "the device interface list kept changing; try again".into(),
    })
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
    /// `devcon` command to install it), access denied (run as
    /// Administrator), or the OS's own message.
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
                GENERIC_READ | GENERIC_WRITE,
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
                     check `devcon status Root\\KcomSample`"
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
                    message: ADMIN_HINT.into(),
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
