//! x64 Windows layouts of the structures the driver and the host exchange,
//! and the constants of the kernel and KMDF ABI the host needs.
//!
//! Layouts follow the Windows headers (`wdm.h`) and the KMDF 1.33 public
//! headers; every size and the offsets the host relies on are checked at
//! compile time below.

use std::ffi::c_void;
use std::mem::{offset_of, size_of};

/// `NTSTATUS`.
pub type NtStatus = i32;
/// Any WDF handle, or an opaque kernel pointer.
pub type Handle = *mut c_void;

/// `NT_SUCCESS`.
pub const fn nt_success(status: NtStatus) -> bool {
    status >= 0
}

/// NTSTATUS values used by the host, under their names without `STATUS_`
/// (values and names are `ntdef`'s, the one table the workspace keeps).
pub mod status {
    use super::NtStatus;

    pub use ntdef::status::{
        STATUS_ACCESS_DENIED as ACCESS_DENIED, STATUS_BUFFER_TOO_SMALL as BUFFER_TOO_SMALL,
        STATUS_DELETE_PENDING as DELETE_PENDING, STATUS_DEVICE_BUSY as DEVICE_BUSY,
        STATUS_DRIVER_INTERNAL_ERROR as DRIVER_INTERNAL_ERROR,
        STATUS_INFO_LENGTH_MISMATCH as INFO_LENGTH_MISMATCH,
        STATUS_INSUFFICIENT_RESOURCES as INSUFFICIENT_RESOURCES,
        STATUS_INTERNAL_ERROR as INTERNAL_ERROR,
        STATUS_INVALID_DEVICE_REQUEST as INVALID_DEVICE_REQUEST,
        STATUS_INVALID_DEVICE_STATE as INVALID_DEVICE_STATE,
        STATUS_INVALID_PARAMETER as INVALID_PARAMETER,
        STATUS_INVALID_PARAMETER_4 as INVALID_PARAMETER_4,
        STATUS_INVALID_SECURITY_DESCR as INVALID_SECURITY_DESCR, STATUS_SUCCESS as SUCCESS,
        STATUS_TIMEOUT as TIMEOUT, STATUS_UNSUCCESSFUL as UNSUCCESSFUL,
        STATUS_WDF_BUSY as WDF_BUSY,
        STATUS_WDF_EXECUTION_LEVEL_INVALID as WDF_EXECUTION_LEVEL_INVALID,
        STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL as WDF_INCOMPATIBLE_EXECUTION_LEVEL,
        STATUS_WDF_INTERNAL_ERROR as WDF_INTERNAL_ERROR, STATUS_WDF_NO_CALLBACK as WDF_NO_CALLBACK,
        STATUS_WDF_NOT_ENOUGH_MAP_REGISTERS as WDF_NOT_ENOUGH_MAP_REGISTERS,
        STATUS_WDF_OBJECT_ATTRIBUTES_INVALID as WDF_OBJECT_ATTRIBUTES_INVALID,
        STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED as WDF_PARENT_ASSIGNMENT_NOT_ALLOWED,
        STATUS_WDF_PARENT_NOT_SPECIFIED as WDF_PARENT_NOT_SPECIFIED,
        STATUS_WDF_PAUSED as WDF_PAUSED,
        STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID as WDF_SYNCHRONIZATION_SCOPE_INVALID,
    };

    /// The `STATUS_*` name of `status`, if the host knows it.
    pub fn name(status: NtStatus) -> Option<&'static str> {
        ntdef::status_name(status)
    }

    /// `STATUS_NAME (0xC0000079)`, or the value alone.
    pub fn describe(status: NtStatus) -> String {
        match name(status) {
            Some(n) => format!("{n} (0x{:08X})", status as u32),
            None => format!("0x{:08X}", status as u32),
        }
    }

    /// `FACILITY_DRIVER_FRAMEWORK` (0x20): KMDF's own status codes.
    pub const fn is_framework_facility(status: NtStatus) -> bool {
        (status as u32 & 0x0FFF_0000) == 0x20 << 16
    }
}

/// IRQL levels (x64).
pub mod irql {
    /// PASSIVE_LEVEL.
    pub const PASSIVE: u8 = 0;
    /// APC_LEVEL.
    pub const APC: u8 = 1;
    /// DISPATCH_LEVEL.
    pub const DISPATCH: u8 = 2;
    /// HIGH_LEVEL.
    pub const HIGH: u8 = 15;
}

/// `UNICODE_STRING`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UnicodeString {
    pub length: u16,
    pub maximum_length: u16,
    pub buffer: *const u16,
}

/// `LIST_ENTRY`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ListEntry {
    pub flink: *mut ListEntry,
    pub blink: *mut ListEntry,
}

/// The size of `DRIVER_OBJECT` on x64.
pub const DRIVER_OBJECT_SIZE: usize = 0x150;
/// `IO_TYPE_DRIVER`.
pub const IO_TYPE_DRIVER: i16 = 4;
/// `IO_TYPE_DEVICE`.
pub const IO_TYPE_DEVICE: i16 = 3;
/// `IRP_MJ_MAXIMUM_FUNCTION + 1`.
pub const IRP_MJ_COUNT: usize = 28;

/// `DRIVER_OBJECT` (x64, 0x150 bytes).
#[repr(C)]
#[derive(Debug)]
pub struct DriverObject {
    pub type_: i16,
    pub size: i16,
    pub device_object: *mut c_void,
    pub flags: u32,
    pub driver_start: *mut c_void,
    pub driver_size: u32,
    pub driver_section: *mut c_void,
    pub driver_extension: *mut DriverExtension,
    pub driver_name: UnicodeString,
    pub hardware_database: *mut UnicodeString,
    pub fast_io_dispatch: *mut c_void,
    pub driver_init: usize,
    pub driver_start_io: usize,
    pub driver_unload: usize,
    pub major_function: [usize; IRP_MJ_COUNT],
}

/// The public part of `DRIVER_EXTENSION`.
#[repr(C)]
#[derive(Debug)]
pub struct DriverExtension {
    pub driver_object: *mut DriverObject,
    pub add_device: usize,
    pub count: u32,
    pub service_key_name: UnicodeString,
}

/// The leading fields of `DEVICE_OBJECT` that drivers read (x64: 0x150
/// bytes in all); the host's PDOs and FDOs are zero-filled blocks of that
/// size with these fields set.
#[repr(C)]
#[derive(Debug)]
pub struct DeviceObjectHead {
    pub type_: i16,
    pub size: u16,
    pub reference_count: i32,
    pub driver_object: *mut DriverObject,
    pub next_device: *mut c_void,
    pub attached_device: *mut c_void,
    pub current_irp: *mut c_void,
    pub timer: *mut c_void,
    pub flags: u32,
    pub characteristics: u32,
    pub vpb: *mut c_void,
    pub device_extension: *mut c_void,
    pub device_type: u32,
}
/// The size of `DEVICE_OBJECT` on x64.
pub const DEVICE_OBJECT_SIZE: usize = 0x150;

/// `DISPATCHER_HEADER` as `KEVENT` uses it (the first 24 bytes).
#[repr(C)]
#[derive(Debug)]
pub struct DispatcherHeader {
    pub type_: u8,
    pub signalling: u8,
    pub size: u8,
    pub reserved: u8,
    pub signal_state: i32,
    pub wait_list_head: ListEntry,
}

/// `KEVENT` type values (`EVENT_TYPE`).
pub const NOTIFICATION_EVENT: u8 = 0;
/// `SynchronizationEvent`.
pub const SYNCHRONIZATION_EVENT: u8 = 1;

/// `WDF_BIND_INFO` (version 1).
#[repr(C)]
#[derive(Debug)]
pub struct BindInfo {
    pub size: u32,
    pub component: *const u16,
    pub major: u32,
    pub minor: u32,
    pub build: u32,
    pub func_count: u32,
    pub func_table: *mut *const usize,
    pub module: *mut c_void,
}

/// `WDF_BIND_INFO2`: version 1 followed by pointers to the client's globals.
#[repr(C)]
#[derive(Debug)]
pub struct BindInfo2 {
    pub v1: BindInfo,
    pub minimum_version_required: *mut u32,
    pub client_version_higher_than_framework: *mut u8,
    pub func_count_ptr: *mut u32,
    pub struct_count_ptr: *mut u32,
    pub struct_table: *mut *const usize,
}

/// `WDF_DRIVER_GLOBALS`.
#[repr(C)]
#[derive(Debug)]
pub struct DriverGlobals {
    pub driver: Handle,
    pub driver_flags: u32,
    pub driver_tag: u32,
    pub driver_name: [u8; 32],
    pub displace_driver_unload: u8,
}

/// `WDF_DRIVER_CONFIG`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DriverConfig {
    pub size: u32,
    pub evt_driver_device_add: usize,
    pub evt_driver_unload: usize,
    pub driver_init_flags: u32,
    pub driver_pool_tag: u32,
}
/// `sizeof(WDF_DRIVER_CONFIG_V1_1)` (and V1_0): no `DriverPoolTag`.
pub const DRIVER_CONFIG_V1_1_SIZE: u32 = 32;

/// `WDF_OBJECT_ATTRIBUTES`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ObjectAttributes {
    pub size: u32,
    pub evt_cleanup_callback: usize,
    pub evt_destroy_callback: usize,
    pub execution_level: i32,
    pub synchronization_scope: i32,
    pub parent_object: Handle,
    pub context_size_override: usize,
    pub context_type_info: *const ContextTypeInfo,
}

/// `WDF_OBJECT_CONTEXT_TYPE_INFO`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ContextTypeInfo {
    pub size: u32,
    pub context_name: *const u8,
    pub context_size: usize,
    pub unique_type: *const ContextTypeInfo,
    pub evt_driver_get_unique_context_type: usize,
}
/// `sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO_V1_0)`: no `UniqueType` nor getter.
pub const CONTEXT_TYPE_INFO_V1_0_SIZE: u32 = 24;

/// `WDF_IO_QUEUE_CONFIG`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IoQueueConfig {
    pub size: u32,
    pub dispatch_type: i32,
    pub power_managed: i32,
    pub allow_zero_length_requests: u8,
    pub default_queue: u8,
    pub evt_io_default: usize,
    pub evt_io_read: usize,
    pub evt_io_write: usize,
    pub evt_io_device_control: usize,
    pub evt_io_internal_device_control: usize,
    pub evt_io_stop: usize,
    pub evt_io_resume: usize,
    pub evt_io_canceled_on_queue: usize,
    /// `Settings.Parallel.NumberOfPresentedRequests`.
    pub number_of_presented_requests: u32,
    pub driver: Handle,
}

/// `WDF_WORKITEM_CONFIG`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WorkItemConfig {
    pub size: u32,
    pub evt_work_item_func: usize,
    pub automatic_serialization: u8,
}

/// `GUID`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guid {
    pub data1: u32,
    pub data2: u16,
    pub data3: u16,
    pub data4: [u8; 8],
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{{{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

/// `WDF_EXECUTION_LEVEL`.
pub mod execution_level {
    /// `WdfExecutionLevelInvalid`.
    pub const INVALID: i32 = 0;
    /// `WdfExecutionLevelInheritFromParent`.
    pub const INHERIT: i32 = 1;
    /// `WdfExecutionLevelPassive`.
    pub const PASSIVE: i32 = 2;
    /// `WdfExecutionLevelDispatch`.
    pub const DISPATCH: i32 = 3;
}

/// `WDF_SYNCHRONIZATION_SCOPE`.
pub mod synchronization_scope {
    /// `WdfSynchronizationScopeInvalid`.
    pub const INVALID: i32 = 0;
    /// `WdfSynchronizationScopeInheritFromParent`.
    pub const INHERIT: i32 = 1;
    /// `WdfSynchronizationScopeDevice`.
    pub const DEVICE: i32 = 2;
    /// `WdfSynchronizationScopeQueue`.
    pub const QUEUE: i32 = 3;
    /// `WdfSynchronizationScopeNone`.
    pub const NONE: i32 = 4;
}

/// `WDF_TRI_STATE`.
pub mod tri_state {
    /// `WdfFalse`.
    pub const FALSE: i32 = 0;
}

/// `WDF_IO_QUEUE_DISPATCH_TYPE`.
pub mod dispatch_type {
    /// `WdfIoQueueDispatchSequential`.
    pub const SEQUENTIAL: i32 = 1;
    /// `WdfIoQueueDispatchParallel`.
    pub const PARALLEL: i32 = 2;
    /// `WdfIoQueueDispatchManual`.
    pub const MANUAL: i32 = 3;
    /// `WdfIoQueueDispatchMax`.
    pub const MAX: i32 = 4;
}

/// `WDF_DEVICE_IO_TYPE`.
pub mod io_type {
    /// `WdfDeviceIoNeither`.
    pub const NEITHER: i32 = 1;
    /// `WdfDeviceIoDirect`.
    pub const DIRECT: i32 = 3;
}

/// `WDF_DRIVER_INIT_FLAGS`.
pub mod driver_init_flags {
    /// `WdfDriverInitNonPnpDriver`.
    pub const NON_PNP: u32 = 0x1;
    /// `WdfDriverInitNoDispatchOverride`.
    pub const NO_DISPATCH_OVERRIDE: u32 = 0x2;
    /// `WdfDriverInitCompanion`.
    pub const COMPANION: u32 = 0x10;
}

/// `IOCTL` code fields (`CTL_CODE`).
pub mod ioctl {
    /// `METHOD_BUFFERED`.
    pub const METHOD_BUFFERED: u32 = 0;
    /// `FILE_READ_ACCESS`.
    pub const FILE_READ_ACCESS: u32 = 1;
    /// `FILE_WRITE_ACCESS`.
    pub const FILE_WRITE_ACCESS: u32 = 2;

    /// The transfer method.
    pub const fn method(code: u32) -> u32 {
        code & 3
    }
    /// The required access.
    pub const fn access(code: u32) -> u32 {
        (code >> 14) & 3
    }
}

/// `ExAllocatePool2` flags.
pub mod pool_flags {
    /// `POOL_FLAG_USE_QUOTA`.
    pub const USE_QUOTA: u64 = 0x1;
    /// `POOL_FLAG_UNINITIALIZED`.
    pub const UNINITIALIZED: u64 = 0x2;
    /// `POOL_FLAG_SESSION`.
    pub const SESSION: u64 = 0x4;
    /// `POOL_FLAG_CACHE_ALIGNED`.
    pub const CACHE_ALIGNED: u64 = 0x8;
    /// `POOL_FLAG_RAISE_ON_FAILURE`.
    pub const RAISE_ON_FAILURE: u64 = 0x20;
    /// `POOL_FLAG_NON_PAGED`.
    pub const NON_PAGED: u64 = 0x40;
    /// `POOL_FLAG_NON_PAGED_EXECUTE`.
    pub const NON_PAGED_EXECUTE: u64 = 0x80;
    /// `POOL_FLAG_PAGED`.
    pub const PAGED: u64 = 0x100;
    /// Every flag `ExAllocatePool2` accepts (the required ones are below
    /// 0x100000000, the optional ones above).
    pub const VALID: u64 = USE_QUOTA
        | UNINITIALIZED
        | SESSION
        | CACHE_ALIGNED
        | RAISE_ON_FAILURE
        | NON_PAGED
        | NON_PAGED_EXECUTE
        | PAGED;
}

/// `POOL_TYPE` values `ExAllocatePoolWithTag` takes.
pub mod pool_type {
    /// `NonPagedPool` (executable).
    pub const NON_PAGED: u32 = 0;
    /// `PagedPool`.
    pub const PAGED: u32 = 1;
    /// `NonPagedPoolMustSucceed` (not allowed for drivers).
    pub const NON_PAGED_MUST_SUCCEED: u32 = 2;
    /// `NonPagedPoolCacheAligned`.
    pub const NON_PAGED_CACHE_ALIGNED: u32 = 4;
    /// `PagedPoolCacheAligned`.
    pub const PAGED_CACHE_ALIGNED: u32 = 5;
    /// `NonPagedPoolNx`.
    pub const NON_PAGED_NX: u32 = 512;
    /// `NonPagedPoolNxCacheAligned`.
    pub const NON_PAGED_NX_CACHE_ALIGNED: u32 = 516;
    /// `POOL_RAISE_IF_ALLOCATION_FAILURE`.
    pub const RAISE_IF_ALLOCATION_FAILURE: u32 = 16;
}

/// The `PROTECTED_POOL` bit of a pool tag, ignored when tags are compared.
pub const PROTECTED_POOL: u32 = 0x8000_0000;

/// `FILE_DEVICE_SECURE_OPEN`.
pub const FILE_DEVICE_SECURE_OPEN: u32 = 0x100;

const _: () = {
    assert!(size_of::<UnicodeString>() == 16);
    assert!(size_of::<DriverObject>() == DRIVER_OBJECT_SIZE);
    assert!(offset_of!(DriverObject, driver_start) == 0x18);
    assert!(offset_of!(DriverObject, driver_extension) == 0x30);
    assert!(offset_of!(DriverObject, driver_name) == 0x38);
    assert!(offset_of!(DriverObject, driver_init) == 0x58);
    assert!(offset_of!(DriverObject, driver_unload) == 0x68);
    assert!(offset_of!(DriverObject, major_function) == 0x70);
    assert!(offset_of!(DriverExtension, service_key_name) == 0x18);
    assert!(offset_of!(DeviceObjectHead, flags) == 0x30);
    assert!(offset_of!(DeviceObjectHead, device_extension) == 0x40);
    assert!(offset_of!(DeviceObjectHead, device_type) == 0x48);
    assert!(size_of::<DeviceObjectHead>() <= DEVICE_OBJECT_SIZE);
    assert!(size_of::<DispatcherHeader>() == 24);
    assert!(offset_of!(DispatcherHeader, signal_state) == 4);
    assert!(size_of::<BindInfo>() == 48);
    assert!(size_of::<BindInfo2>() == 88);
    assert!(size_of::<DriverGlobals>() == 56);
    assert!(size_of::<DriverConfig>() == 32);
    assert!(size_of::<ObjectAttributes>() == 56);
    assert!(size_of::<ContextTypeInfo>() == 40);
    assert!(size_of::<IoQueueConfig>() == 96);
    assert!(offset_of!(IoQueueConfig, number_of_presented_requests) == 80);
    assert!(size_of::<WorkItemConfig>() == 24);
    assert!(size_of::<Guid>() == 16);
};

/// Converts a code address (a callback the driver registered, an entry
/// point) into a function pointer of type `F`.
///
/// # Safety
///
/// `F` is a function pointer type and `address` is not 0 (a function
/// pointer is never null). Calling the result is a further unsafe step:
/// the code at `address` must have `F`'s signature.
pub(crate) unsafe fn fn_ptr<F: Copy>(address: usize) -> F {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    debug_assert_ne!(address, 0);
    // SAFETY: `F` is a pointer-sized function pointer type and the address
    // is non-zero (the contract), so the bits are a valid `F`.
    unsafe { std::mem::transmute_copy(&address) }
}
